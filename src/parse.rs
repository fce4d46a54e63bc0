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

use arrow_array::builder::BinaryBuilder;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, SchemaRef};

use crate::format::{Format, trim_line_end};
use crate::reject::RejectKind;
use crate::schema::{Check, ColumnId, FieldType, TableColumns};

mod dict;
mod ints;
mod typed;
use dict::DictBuilder;
use ints::IntBuilder;
pub use typed::TypedRows;

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
    /// The fields whose values are checked (see [`Check`]), by kind of check, in a pass
    /// of their own after the line is split (so that the splitting loop stays small):
    /// address fields, by their index among the fields;
    addresses: Vec<usize>,
    /// fields checked against a set of values;
    sets: Vec<usize>,

    /// The index of `start` and `end` among the numbers, when the format has both.
    start_end: Option<(usize, usize)>,
}

#[derive(Clone, Debug)]
struct Slot {
    column: usize,
    ty: FieldType,
    check: Check,
    /// For a check against a set of values: each value of up to 8 bytes as a word, so that a
    /// token is compared with a few integer comparisons, not a string comparison per value.
    words: Vec<(u64, usize)>,
    /// For a number field: the values its check allows (all when it has none).
    lo: i64,
    hi: i64,
    is_start: bool,
    is_end: bool,
    name: Arc<str>,
}

/// Up to 8 bytes as one little-endian word (zero-padded); `None` for longer tokens.
#[inline]
fn word(tok: &[u8]) -> Option<u64> {
    if tok.len() > 8 {
        return None;
    }
    let mut w = 0u64;
    for (i, &b) in tok.iter().enumerate() {
        w |= u64::from(b) << (8 * i);
    }
    Some(w)
}

impl Slot {
    /// Whether `tok` is one of the values of a set check.
    #[inline]
    fn in_set(&self, set: &[&str], tok: &[u8]) -> bool {
        match word(tok) {
            Some(w) if self.words.len() == set.len() => self.words.iter().any(|&(v, n)| v == w && n == tok.len()),
            _ => set.iter().any(|v| v.as_bytes() == tok),
        }
    }
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
                words: match id.check() {
                    Check::OneOf(set) | Check::Known(set) => {
                        set.iter().filter_map(|v| Some((word(v.as_bytes())?, v.len()))).collect()
                    }
                    _ => Vec::new(),
                },
                // (`start` has a reason of its own for values outside its range: `bad_start`.)
                lo: match id.check() {
                    Check::Range(lo, _) | Check::KnownRange(lo, _) if *id != start => lo,
                    _ => i64::MIN,
                },
                hi: match id.check() {
                    Check::Range(_, hi) | Check::KnownRange(_, hi) if *id != start => hi,
                    _ => i64::MAX,
                },
                is_start: *id == start,
                is_end: *id == end,
                name: Arc::from(id.header_name()),
            })
            .collect();
        let present: Vec<usize> = slots.iter().map(|s| s.column).collect();
        let missing = (0..table.len()).filter(|c| !present.contains(c)).collect();
        let (mut addresses, mut sets) = (Vec::new(), Vec::new());
        let mut number = 0;
        let (mut start_at, mut end_at) = (None, None);
        for (i, s) in slots.iter().enumerate() {
            let n = (s.ty != FieldType::String).then_some(number);
            number += usize::from(n.is_some());
            if s.is_start {
                start_at = n;
            }
            if s.is_end {
                end_at = n;
            }
            match (s.check, n) {
                (Check::Address, None) => addresses.push(i),
                (Check::OneOf(_) | Check::Known(_), None) => sets.push(i),
                _ => {}
            }
        }
        ColumnPlan { slots, missing, addresses, sets, start_end: start_at.zip(end_at) }
    }
}

/// Why a line was rejected: a stable kind (for counting) and the full text
/// written to the rejects file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The kind, counted under its stable name in the run report.
    pub kind: RejectKind,
    /// The sentence written to the rejects file.
    pub text: String,
    /// For a value outside a field's documented set ([`Check::Known`]): the field's header
    /// name and the value, which the run report lists (AWS may have added the value).
    pub unknown: Option<(String, String)>,
}

impl Reason {
    /// A reason of `kind` with `text`.
    pub fn new(kind: RejectKind, text: impl Into<String>) -> Reason {
        Reason { kind, text: text.into(), unknown: None }
    }
}

/// A byte repeated in every lane of a 16-byte word.
const fn lanes(b: u8) -> u128 {
    (b as u128) * 0x0101_0101_0101_0101_0101_0101_0101_0101
}
const HIGH: u128 = lanes(0x80);

/// Lanes (high bit set) whose byte is at least `c`: every byte below 0x80, `c` at most 0x80.
#[inline(always)]
fn lanes_ge(x: u128, c: u8) -> u128 {
    (x + lanes(0x80 - c)) & HIGH
}

/// A token of up to 16 bytes as one little-endian word, zero-padded, read with loads
/// that stay inside it.
#[inline(always)]
fn word16(tok: &[u8]) -> u128 {
    let n = tok.len();
    debug_assert!((4..=16).contains(&n));
    if n < 8 {
        let half = |at: usize| u64::from(u32::from_le_bytes(tok[at..at + 4].try_into().expect("4 bytes")));
        return u128::from(half(0) | half(n - 4) << (8 * (n - 4)));
    }
    let word = |at: usize| u64::from_le_bytes(tok[at..at + 8].try_into().expect("8 bytes"));
    let hi = if n == 8 { 0 } else { word(n - 8) >> (8 * (16 - n)) };
    u128::from(word(0)) | u128::from(hi) << 64
}

/// Whether the token in `x` (`n` bytes, from [`word16`]) is an IPv4 address in
/// dotted-quad form without leading zeros (the only way AWS writes one, and the text
/// `find --ip` matches), tested sixteen bytes at once: addresses are two fields of every
/// record, and octets of one to three digits in any mix would make a byte-by-byte test
/// mispredict at every octet.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn is_ipv4_word(x: u128, n: usize) -> bool {
    let valid = HIGH & ((1u128 << (8 * n)) - 1);
    if x & HIGH != 0 {
        return false;
    }
    let digit = lanes_ge(x, b'0') & !lanes_ge(x, b'9' + 1) & valid;
    let other = valid & !digit;
    // Every byte that is no digit must be a dot: compare those lanes whole with '.'.
    let other_lanes = other | (other - (other >> 7));
    if (x ^ lanes(b'.')) & other_lanes != 0 {
        return false;
    }
    let dot = other;
    // Three dots, none at either end or next to another; at most three digits an octet.
    let shape = dot.count_ones() == 3
        && digit & 0x80 != 0
        && (digit >> (8 * (n - 1))) & 0x80 != 0
        && dot & (dot >> 8) == 0
        && digit & (digit >> 8) & (digit >> 16) & (digit >> 24) == 0;
    if !shape {
        return false;
    }
    // The digits' values, one a lane (0..=9 where there is a digit).
    let d = x & lanes(0x0f);
    let ge = |k: u8| (d + lanes(0x80 - k)) & HIGH;
    let start = ((dot << 8) | 0x80) & valid;
    let zero = digit & !ge(1);
    let (two, five) = (ge(2) & !ge(3), ge(5) & !ge(6));
    // An octet of three digits a, b, c is over 255 when a >= 3, or a = 2 and (b >= 6, or b = 5 and c >= 6).
    let over = ge(3) | (two & ((ge(6) | (five & (ge(6) >> 8))) >> 8));
    let three = start & (digit >> 8) & (digit >> 16);
    zero & start & (digit >> 8) == 0 && three & over == 0
}

/// Whether a token is an IPv4 address in dotted-quad form without leading zeros (see
/// [`is_ipv4_word`]): with SSE2 (every x86-64 processor), sixteen byte comparisons an
/// instruction, their results as one bit each; elsewhere with [`is_ipv4_word`].
#[inline]
fn is_ipv4(tok: &[u8]) -> bool {
    if !(7..=15).contains(&tok.len()) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of every x86-64 processor (the target's baseline).
    unsafe {
        is_ipv4_sse2(word16(tok), tok.len())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        is_ipv4_word(word16(tok), tok.len())
    }
}

/// [`is_ipv4_word`] with SSE2: bit `i` of each mask tells about byte `i`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn is_ipv4_sse2(x: u128, n: usize) -> bool {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_movemask_epi8, _mm_set_epi64x, _mm_set1_epi8};
    let v = _mm_set_epi64x((x >> 64) as i64, x as i64);
    // Signed comparisons: a byte of 0x80 or more is below everything here, so no digit.
    let above = |c: u8| _mm_movemask_epi8(_mm_cmpgt_epi8(v, _mm_set1_epi8(c as i8))) as u32;
    let equal = |c: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u32;
    let valid = (1u32 << n) - 1;
    let digit = above(b'0' - 1) & !above(b'9') & valid;
    let dot = equal(b'.') & valid;
    // Only digits and dots; three dots, none at either end or next to another; at most three digits an octet.
    let shape = digit | dot == valid
        && dot.count_ones() == 3
        && digit & 1 != 0
        && (digit >> (n - 1)) & 1 != 0
        && dot & (dot >> 1) == 0
        && digit & (digit >> 1) & (digit >> 2) & (digit >> 3) == 0;
    if !shape {
        return false;
    }
    let start = ((dot << 1) | 1) & valid;
    let leading_zero = equal(b'0') & start & (digit >> 1);
    // An octet of three digits a, b, c is over 255 when a >= 3, or a = 2 and (b >= 6, or b = 5 and c >= 6).
    let (ge6, five) = (above(b'5'), equal(b'5'));
    let over = above(b'2') | (equal(b'2') & ((ge6 | (five & (ge6 >> 1))) >> 1));
    let three = start & (digit >> 1) & (digit >> 2);
    leading_zero == 0 && three & over == 0
}

/// An IPv4 or IPv6 address.
#[inline(never)]
fn is_address(tok: &[u8]) -> bool {
    is_ipv4(tok) || is_ipv6(tok)
}

/// Whether `tok` is IPv6 text (RFC 4291 section 2.2): eight groups of one to four hex
/// digits, or fewer with one `::` standing for the rest, the last two groups possibly an
/// IPv4 address in dotted-quad form.
fn is_ipv6(tok: &[u8]) -> bool {
    if !(2..=45).contains(&tok.len()) {
        return false;
    }
    let (mut groups, mut i, mut gap) = (0usize, 0usize, false);
    let n = tok.len();
    if tok.starts_with(b"::") {
        gap = true;
        i = 2;
        if i == n {
            return true;
        }
    } else if tok[0] == b':' {
        return false;
    }
    loop {
        // One group: hex digits up to the next `:` (or an IPv4 tail).
        let start = i;
        while i < n && tok[i].is_ascii_hexdigit() && i - start < 5 {
            i += 1;
        }
        let len = i - start;
        if i < n && tok[i] == b'.' {
            // An IPv4 tail takes the place of two groups.
            return groups + 2 <= 8 && (gap || groups + 2 == 8) && is_ipv4(&tok[start..]);
        }
        if len == 0 || len > 4 {
            return false;
        }
        groups += 1;
        if i == n {
            return if gap { groups < 8 } else { groups == 8 };
        }
        if tok[i] != b':' {
            return false;
        }
        i += 1;
        if i < n && tok[i] == b':' {
            if gap {
                return false;
            }
            gap = true;
            i += 1;
            if i == n {
                return groups < 8;
            }
        } else if i == n {
            return false;
        }
        if groups >= 8 {
            return false;
        }
    }
}

#[cold]
fn invalid_value(slot: &Slot, tok: &[u8], why: std::fmt::Arguments<'_>) -> Reason {
    Reason::new(
        RejectKind::InvalidValue,
        format!("invalid value in field `{}`: `{}` {why}", slot.name, String::from_utf8_lossy(tok)),
    )
}

#[cold]
fn unknown_value(slot: &Slot, tok: &[u8], documented: &str) -> Reason {
    let value = String::from_utf8_lossy(tok).into_owned();
    Reason {
        kind: RejectKind::UnknownValue,
        text: format!(
            "unknown value in field `{}`: `{value}` (AWS documents {documented}; if AWS has added it, \
             it belongs in flowlake's field catalog)",
            slot.name
        ),
        unknown: Some((slot.name.to_string(), value)),
    }
}

/// Whether a string field's [`Check`] looks at its values at all ([`text_ok`] is true of
/// every value otherwise).
fn checks_text(slot: &Slot) -> bool {
    !matches!(slot.check, Check::Any | Check::Range(..) | Check::KnownRange(..))
}

/// Whether a string field's value passes its [`Check`] (the hot path: no reason is built).
#[inline]
fn text_ok(slot: &Slot, tok: &[u8]) -> bool {
    match slot.check {
        Check::Any | Check::Range(..) | Check::KnownRange(..) => true,
        Check::Address => is_address(tok),
        Check::OneOf(set) | Check::Known(set) => slot.in_set(set, tok),
    }
}

/// Why a string field's value failed its [`Check`].
#[cold]
#[inline(never)]
fn text_reason(slot: &Slot, tok: &[u8]) -> Reason {
    match slot.check {
        Check::OneOf(set) => invalid_value(slot, tok, format_args!("is not {}", set.join(" or "))),
        Check::Known(set) => unknown_value(slot, tok, &set.join(", ")),
        _ => invalid_value(slot, tok, format_args!("is not an IPv4 or IPv6 address")),
    }
}

/// Why a number field's value failed its [`Check`].
#[cold]
#[inline(never)]
fn number_reason(slot: &Slot, tok: &[u8]) -> Reason {
    match slot.check {
        Check::KnownRange(lo, hi) => unknown_value(slot, tok, &format!("{lo} to {hi}")),
        Check::Range(lo, hi) => invalid_value(slot, tok, format_args!("is not between {lo} and {hi}")),
        _ => unreachable!("only ranges fail a number"),
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

/// A number field's value (not `-`): an integer, in the field's type and its check's range.
#[inline(always)]
fn int_value(slot: &Slot, tok: &[u8]) -> Result<i64, Reason> {
    let v = parse_int(tok).ok_or_else(|| {
        Reason::new(
            RejectKind::InvalidNumber,
            format!("invalid number in field `{}`: `{}`", slot.name, String::from_utf8_lossy(tok)),
        )
    })?;
    if slot.ty == FieldType::Int32 && i32::try_from(v).is_err() {
        return Err(Reason::new(
            RejectKind::OutOfRange,
            format!("number out of range for int32 field `{}`: `{}`", slot.name, String::from_utf8_lossy(tok)),
        ));
    }
    // The range the field's check allows (predictable: nearly every value is in it).
    if v < slot.lo || v > slot.hi {
        return Err(number_reason(slot, tok));
    }
    Ok(v)
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
        let found = self.split(plan, line)?;
        self.ints.clear();
        let mut start = None;
        for (b, slot) in self.bounds[..=found].windows(2).zip(&plan.slots) {
            let tok = &line[b[0]..b[1] - 1];
            if tok.is_empty() {
                return Err(Reason::new(
                    RejectKind::EmptyValue,
                    format!("empty value in field `{}` (two spaces in a row?)", slot.name),
                ));
            }
            match slot.ty {
                FieldType::String => {}
                FieldType::Int32 | FieldType::Int64 => {
                    let v = if is_dash(tok) { None } else { Some(int_value(slot, tok)?) };
                    if slot.is_start {
                        if let Some(s) = v
                            && !(0..=MAX_UNIX_SECONDS).contains(&s)
                        {
                            return Err(Reason::new(
                                RejectKind::BadStart,
                                format!("start `{s}` is not a Unix time in seconds between 1970 and 9999"),
                            ));
                        }
                        start = v;
                    }
                    self.ints.push(v);
                }
            }
        }
        self.check_values(plan, line)?;
        Ok(Parsed { start })
    }

    /// Splits a line (without its line end) into fields, their bounds in `self.bounds`;
    /// returns how many, which must be the plan's. Lines with control characters or that
    /// are not UTF-8 are refused here.
    #[inline(always)]
    fn split(&mut self, plan: &ColumnPlan, line: &[u8]) -> Result<usize, Reason> {
        if line.is_empty() {
            return Err(Reason::new(RejectKind::EmptyLine, "empty line"));
        }
        if line.len() > MAX_LINE {
            return Err(Reason::new(RejectKind::LineTooLong, format!("line longer than {MAX_LINE} bytes")));
        }
        // Room for a bound after every byte, and for the eight a word's split may write.
        if self.bounds.len() < line.len() + 16 {
            self.bounds.resize(line.len().max(255) + 16, 0);
        }
        let (found, plain) = split_fields(line, &mut self.bounds);
        if !plain {
            if let Some((at, b)) = line.iter().enumerate().find(|(_, b)| **b < 0x20) {
                return Err(Reason::new(
                    RejectKind::ControlCharacter,
                    format!("control character 0x{b:02x} at byte {} of the line", at + 1),
                ));
            }
            if std::str::from_utf8(line).is_err() {
                return Err(Reason::new(RejectKind::InvalidUtf8, "invalid UTF-8"));
            }
        }
        self.bounds[found] = line.len() + 1;
        if found != plan.slots.len() {
            return Err(Reason::new(
                RejectKind::FieldCount,
                format!("wrong field count: expected {} fields, found {found}", plan.slots.len()),
            ));
        }
        Ok(found)
    }

    /// The second pass over a split line: every checked field's value against its [`Check`].
    #[inline(never)]
    fn check_values(&self, plan: &ColumnPlan, line: &[u8]) -> Result<(), Reason> {
        let tok = |b: &[usize], i: usize| &line[b[i]..b[i + 1] - 1];
        for &i in &plan.addresses {
            let t = tok(&self.bounds, i);
            if is_dash(t) {
                continue;
            }
            if !is_ipv4(t) && !is_ipv6(t) {
                return Err(text_reason(&plan.slots[i], t));
            }
        }
        for &i in &plan.sets {
            let (slot, t) = (&plan.slots[i], tok(&self.bounds, i));
            if !is_dash(t) && !text_ok(slot, t) {
                return Err(text_reason(slot, t));
            }
        }
        if let Some((s, e)) = plan.start_end
            && let (Some(start), Some(end)) = (self.ints[s], self.ints[e])
            && end < start
        {
            // AWS: `start` is when the window's first packet was received, `end` its last.
            let i = plan.slots.iter().position(|s| s.is_end).expect("the format has end");
            let tok = &line[self.bounds[i]..self.bounds[i + 1] - 1];
            return Err(invalid_value(&plan.slots[i], tok, format_args!("is before the record's start `{start}`")));
        }
        Ok(())
    }
}

/// Writes where each field of `line` starts into `bounds` (0, then the offset just past
/// each space; `bounds` must have room for `line.len() + 2`), and returns how many fields
/// there are and whether every byte is printable ASCII (no byte of 0x80 or more, none
/// below 0x20: NUL, tab, a stray `\r`). One pass of eight bytes at a time (fields are
/// short and spaces frequent, where a search for each space costs more than looking at
/// every byte); the count stays in a register (a `Vec` push would store its length).
#[inline(never)]
fn split_fields(line: &[u8], bounds: &mut [usize]) -> (usize, bool) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    const TOP3: u64 = 0xe0e0_e0e0_e0e0_e0e0;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // One accumulator (the top bit of any byte that is not printable ASCII), so that the
    // loop keeps everything in registers.
    let mut odd = 0u64;
    bounds[0] = 0;
    let mut count = 1;
    let chunks = line.chunks_exact(8);
    let tail = chunks.remainder();
    for (k, c) in chunks.enumerate() {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        // A byte below 0x20 has its top three bits clear: any zero byte of `w & TOP3`.
        let t = w & TOP3;
        odd |= (w | (t.wrapping_sub(ONES) & !t)) & HIGHS;
        let x = w ^ SPACES;
        // The top bit of each byte of `x` that is zero (a space in `w`), exactly: no carry
        // crosses a byte because (x & 0x7f) + 0x7f <= 0xfe.
        let mut m = !((x & LOW7).wrapping_add(LOW7) | x | LOW7);
        while m != 0 {
            bounds[count] = k * 8 + (m.trailing_zeros() / 8) as usize + 1;
            count += 1;
            m &= m - 1;
        }
    }
    let base = line.len() - tail.len();
    for (j, &b) in tail.iter().enumerate() {
        odd |= u64::from(!(0x20..0x80).contains(&b));
        bounds[count] = base + j + 1;
        count += usize::from(b == b' ');
    }
    (count, odd == 0)
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
    I32(IntBuilder<Int32Type>),
    I64(IntBuilder<Int64Type>),
    /// String columns whose values repeat within a batch (accounts, interfaces, actions,
    /// ids) are built as dictionaries ([`DictBuilder`]); their distinct values are checked
    /// as UTF-8 once, in `finish`, rather than token by token.
    Dict(DictBuilder),
    /// Addresses, and fields the catalog does not know: plain strings, bytes collected and
    /// the column checked as UTF-8 once, in `finish`. (Built as dictionaries in input order,
    /// addresses cost more than they save: their tables outgrow the cache, while the sink
    /// sorts by them before arrow-rs's writer interns them.) A batch begun by typed rows
    /// builds these as dictionaries of the input's own values instead
    /// ([`DictBuilder::spliced`], in [`BatchBuilder::append_typed`]).
    Text(BinaryBuilder),
}

impl ColumnBuilder {
    fn new(column: &ColumnId, capacity: usize) -> ColumnBuilder {
        match column.ty() {
            FieldType::Int32 => ColumnBuilder::I32(IntBuilder::with_capacity(capacity)),
            FieldType::Int64 => ColumnBuilder::I64(IntBuilder::with_capacity(capacity)),
            FieldType::String if matches!(column, ColumnId::Known(_)) && column.check() != Check::Address => {
                ColumnBuilder::Dict(DictBuilder::with_capacity(capacity))
            }
            FieldType::String => ColumnBuilder::text(capacity),
        }
    }

    /// A plain string column's builder, sized for `capacity` rows.
    fn text(capacity: usize) -> ColumnBuilder {
        ColumnBuilder::Text(BinaryBuilder::with_capacity(capacity, capacity * 12))
    }

    /// Appends a string field's value (`None`: no value) to a string column's builder.
    #[inline]
    fn append_text(&mut self, tok: Option<&[u8]>) {
        match (self, tok) {
            (ColumnBuilder::Dict(b), Some(t)) => b.append_value(t),
            (ColumnBuilder::Dict(b), None) => b.append_null(),
            (ColumnBuilder::Text(b), Some(t)) => b.append_value(t),
            (ColumnBuilder::Text(b), None) => b.append_null(),
            (ColumnBuilder::I32(_) | ColumnBuilder::I64(_), _) => unreachable!("numbers are appended as numbers"),
        }
    }

    /// The Arrow type of the arrays it makes.
    fn data_type(&self) -> DataType {
        match self {
            ColumnBuilder::I32(_) => DataType::Int32,
            ColumnBuilder::I64(_) => DataType::Int64,
            ColumnBuilder::Dict(_) => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            ColumnBuilder::Text(_) => DataType::Utf8,
        }
    }
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
    /// Plain string columns built as dictionaries in this batch (typed rows' dictionaries:
    /// [`BatchBuilder::append_typed`]), to be plain again in the next.
    as_dictionary: Vec<usize>,
    /// Rows a batch is sized for.
    capacity: usize,
    /// Ids of rows being appended (typed rows' dictionaries), kept from call to call.
    scratch: Vec<u32>,
    rows: usize,
    /// Bytes of the lines appended since the last `finish` (for typed rows, at least their
    /// lines' length: [`TypedRows::line_len`]).
    bytes: usize,
}

impl BatchBuilder {
    /// Builders for `table`, whose Arrow schema is `schema`, sized for about `capacity`
    /// rows. Its batches have `schema`'s names, with some string columns as dictionaries
    /// (see [`ColumnBuilder`]); the Parquet files keep `schema`'s types.
    pub fn new(table: &TableColumns, schema: SchemaRef, capacity: usize) -> BatchBuilder {
        let columns: Vec<ColumnBuilder> = table.columns().iter().map(|c| ColumnBuilder::new(c, capacity)).collect();
        let schema = crate::schema::with_types(&schema, columns.iter().map(ColumnBuilder::data_type));
        BatchBuilder { schema, columns, as_dictionary: Vec::new(), capacity, scratch: Vec::new(), rows: 0, bytes: 0 }
    }

    /// Bytes of the lines appended since the last [`finish`](BatchBuilder::finish) (for
    /// typed rows, at least their lines' length).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes of lines the batch takes before it is full ([`MAX_BATCH_BYTES`]).
    pub fn bytes_room(&self) -> usize {
        MAX_BATCH_BYTES.saturating_sub(self.bytes)
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
                text => {
                    let tok = &line[parser.bounds[i]..parser.bounds[i + 1] - 1];
                    text.append_text((!is_dash(tok)).then_some(tok));
                }
            }
        }
        for &c in &plan.missing {
            match &mut self.columns[c] {
                ColumnBuilder::I32(b) => b.append_null(),
                ColumnBuilder::I64(b) => b.append_null(),
                text => text.append_text(None),
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
                    // Lines are checked as UTF-8 before they are appended, and fields split at
                    // ASCII spaces, so the values' check cannot fail.
                    ColumnBuilder::Dict(b) => b.finish(),
                    ColumnBuilder::Text(b) => {
                        let (offsets, values, nulls) = b.finish().into_parts();
                        Arc::new(StringArray::try_new(offsets, values, nulls).expect("fields are UTF-8"))
                    }
                }
            })
            .collect();
        self.rows = 0;
        self.bytes = 0;
        if self.as_dictionary.is_empty() {
            return RecordBatch::try_new(self.schema.clone(), arrays).expect("builders match the schema");
        }
        for c in std::mem::take(&mut self.as_dictionary) {
            self.columns[c] = ColumnBuilder::text(self.capacity);
        }
        let schema = crate::schema::with_types(&self.schema, arrays.iter().map(|a| a.data_type().clone()));
        RecordBatch::try_new(schema, arrays).expect("builders match the schema")
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
                let mut got = vec![7; line.len() + 16];
                let (n, plain) = split_fields(&line, &mut got);
                let want: Vec<usize> =
                    std::iter::once(0).chain(memchr::memchr_iter(b' ', &line).map(|i| i + 1)).collect();
                assert_eq!(got[..n], want[..], "{line:?}");
                assert_eq!(plain, line.iter().all(|b| (0x20..0x80).contains(b)), "{line:?}");
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
        assert_eq!(p.parse(&plan, bad_utf8).unwrap_err(), Reason::new(RejectKind::InvalidUtf8, "invalid UTF-8"));
    }

    /// The sixteen-bytes-at-once test against a plain one: the text is an IPv4 address
    /// exactly when the standard parser reads it and writes it back the same way.
    #[test]
    fn ipv4_test_matches_the_standard_parser() {
        let reference = |t: &[u8]| {
            std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok())
                .is_some_and(|a| a.to_string().as_bytes() == t)
        };
        let mut cases: Vec<Vec<u8>> = [
            "0.0.0.0",
            "1.2.3.4",
            "10.0.0.1",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.02.3.4",
            "1.2.3.00",
            "1..3.4",
            ".1.2.3",
            "1.2.3.",
            "1.2.3.4 ",
            "249.250.251.252",
            "199.200.255.199",
            "300.1.1.1",
            "260.1.1.1",
            "250.1.1.1",
            "25.5.5.255",
            "1.2.3.1000",
            "1a.2.3.4",
            "1.2.3.-4",
            "1.2.3.4\0",
            "100.100.100.100",
            "1.1.1.1",
            "11.11.11.11",
            "1.1.1.10",
            "2001:db8::1",
            "-",
            "",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let mut x = 7u64;
        let alphabet = b"0123456789.....25x\xc3";
        for _ in 0..200_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = 5 + (x >> 59) as usize % 13;
            let mut t = Vec::with_capacity(len);
            for k in 0..len {
                let r = x.rotate_left(k as u32 * 5) ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                t.push(alphabet[(r % alphabet.len() as u64) as usize]);
            }
            cases.push(t);
            // And real addresses, of every octet length.
            let a = std::net::Ipv4Addr::from((x >> 11) as u32);
            cases.push(a.to_string().into_bytes());
        }
        for t in cases {
            assert_eq!(is_ipv4(&t), reference(&t), "{:?}", String::from_utf8_lossy(&t));
            if (7..=15).contains(&t.len()) {
                // The portable sixteen-lane version too (the one other processors use).
                assert_eq!(is_ipv4_word(word16(&t), t.len()), reference(&t), "{:?}", String::from_utf8_lossy(&t));
            }
        }
    }

    /// The IPv6 test against the standard parser, on random and real texts.
    #[test]
    fn ipv6_test_matches_the_standard_parser() {
        let reference = |t: &[u8]| std::str::from_utf8(t).ok().is_some_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok());
        let mut cases: Vec<Vec<u8>> = [
            "::",
            "::1",
            "1::",
            "1::2",
            "2001:db8::ff00:42:8329",
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            "fe80::1:2:3:4:5:6",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7::",
            "::1:2:3:4:5:6:7",
            "1::2::3",
            ":1::",
            "1:::2",
            "12345::",
            "::ffff:10.0.0.1",
            "::ffff:10.0.0.01",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3.4",
            "1::1.2.3.4",
            "g::1",
            "1:",
            ":",
            "",
            "1:2:3:4:5:6::7",
            "1:2:3:4:5::6:7",
            "a:b:c:d:e:f:0:1",
            "A:B::",
            "::1.2.3.4.5",
            "1::2:",
            "fd00::2",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let mut x = 11u64;
        let alphabet = b"0123456789abcdefABCDEF::::..x";
        for _ in 0..300_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = 1 + (x >> 58) as usize % 40;
            cases.push(
                (0..len)
                    .map(|k| {
                        alphabet[((x.rotate_left(k as u32 * 7) ^ (k as u64 * 0x9e37)) % alphabet.len() as u64) as usize]
                    })
                    .collect(),
            );
            let a = std::net::Ipv6Addr::from(u128::from(x) << (x % 64) ^ u128::from(x.rotate_left(17)) << 64);
            cases.push(a.to_string().into_bytes());
            cases.push(format!("{:x}:{:x}::{:x}", x >> 48, (x >> 32) & 0xffff, x & 0xffff).into_bytes());
        }
        for t in cases {
            assert_eq!(is_ipv6(&t), reference(&t), "{:?}", String::from_utf8_lossy(&t));
        }
    }

    /// A default-format line with these values:
    /// version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
    fn line(src: &str, sport: &str, proto: &str, end: &str, action: &str, status: &str) -> String {
        format!("2 123456789010 eni-1 {src} 10.0.0.1 {sport} 443 {proto} 20 4249 1418530010 {end} {action} {status}")
    }

    fn rejects_with(cases: &[(String, &str)]) {
        let (plan, _) = default_plan();
        let mut p = RecordParser::new();
        for (l, why) in cases {
            let r = p.parse(&plan, l.as_bytes()).unwrap_err();
            assert_eq!(r.text, *why, "{l}");
            assert_eq!(r.unknown, None);
        }
    }

    #[test]
    fn values_with_a_fixed_syntax_are_checked() {
        let (plan, _) = default_plan();
        let mut p = RecordParser::new();
        let ok = [
            line("172.31.16.139", "0", "6", "1418530070", "ACCEPT", "OK"),
            line("2001:db8::ff00:42:8329", "65535", "255", "1418530010", "REJECT", "OK"),
            line("255.255.255.255", "-", "0", "-", "-", "NODATA"),
            line("0.0.0.0", "1", "1", "1418530070", "ACCEPT", "SKIPDATA"),
        ];
        for l in &ok {
            assert!(p.parse(&plan, l.as_bytes()).is_ok(), "{l}: {:?}", p.parse(&plan, l.as_bytes()));
        }
        rejects_with(&[
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
        ]);
    }

    #[test]
    fn ports_protocols_closed_sets_times_and_control_characters_are_checked() {
        rejects_with(&[
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
        ]);
    }

    /// Closed sets that AWS has grown before: an unknown value is named, field and value.
    #[test]
    fn unknown_values_of_closed_sets_are_named() {
        let mut p = RecordParser::new();
        let f = Format::from_spec("version srcaddr type flow-direction traffic-path").unwrap();
        let t = TableColumns::from_columns(f.fields().iter().cloned());
        let plan = ColumnPlan::new(&f, &t);
        assert!(p.parse(&plan, b"5 10.0.0.1 EFA egress 8").is_ok());
        assert!(p.parse(&plan, b"5 10.0.0.1 IPv6 ingress -").is_ok());
        let r = p.parse(&plan, b"5 10.0.0.1 IPv7 egress 1").unwrap_err();
        assert_eq!(r.kind, RejectKind::UnknownValue);
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
        let status = batch.column_by_name("log_status").unwrap().as_dictionary::<Int32Type>();
        let values = status.values().as_string::<i32>();
        assert_eq!(values.value(status.keys().value(1) as usize), "NODATA");
        assert_ne!(status.keys().value(0), status.keys().value(1), "OK and NODATA: two values");
        assert_eq!(values.len(), 2);
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
