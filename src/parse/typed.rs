//! Typed rows (AWS's Parquet deliveries) → the columns their lines would give, without
//! the text in between.
//!
//! A batch whose columns have the types of its format's fields is bound to the plan
//! ([`TypedRows::new`]), and its rows are tested column by column, over the whole batch,
//! against the checks a line's fields get ([`RecordParser`](super::RecordParser)). A row is
//! *clean* when it passes every one of them and would be read as the same values (a
//! string `-` is no value, as in a line); clean rows are appended straight to the
//! builders ([`BatchBuilder::append_typed`]). Any other row is rendered as its line and
//! read by the text path, which rejects it with its reason: so the test may be stricter
//! than the text path (a row it is unsure of only takes the slower way), never laxer.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, Int32Array, Int64Array, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;

use super::dict::DictBuilder;
use super::{BatchBuilder, ColumnBuilder, ColumnPlan, MAX_LINE, MAX_UNIX_SECONDS, Slot, checks_text, is_dash, text_ok};
use crate::schema::FieldType;

/// A batch of typed rows bound to a plan (see the module's documentation).
pub struct TypedRows<'a> {
    plan: &'a ColumnPlan,
    columns: Vec<Typed<'a>>,
    /// Per row: it fails a check, or may (it takes the text path).
    unclean: Vec<bool>,
    /// The column of `start`, when the format has it.
    start: Option<usize>,
    /// At least the length of any row's line.
    line_len: usize,
}

/// One column of the batch, of a type its field is read from.
enum Typed<'a> {
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    Str(&'a StringArray),
    /// Strings as a dictionary (as a Parquet reader hands dictionary-encoded columns): each
    /// value tested once, and a row by its key.
    Dict {
        keys: &'a [i32],
        values: &'a StringArray,
        /// The rows without a value (a null key, or a key of a null value).
        nulls: Option<NullBuffer>,
    },
}

impl Typed<'_> {
    #[inline]
    fn is_valid(&self, row: usize) -> bool {
        match self {
            Typed::I32(a) => a.is_valid(row),
            Typed::I64(a) => a.is_valid(row),
            Typed::Str(a) => a.is_valid(row),
            Typed::Dict { nulls, .. } => nulls.as_ref().is_none_or(|n| n.is_valid(row)),
        }
    }

    /// The bytes of a string column's value in `row`, if it has one.
    #[inline]
    fn string(&self, row: usize) -> Option<&[u8]> {
        match self {
            Typed::Str(a) => a.is_valid(row).then(|| a.value(row).as_bytes()),
            Typed::Dict { keys, values, .. } => self.is_valid(row).then(|| values.value(keys[row] as usize).as_bytes()),
            Typed::I32(_) | Typed::I64(_) => unreachable!("a number column holds no strings"),
        }
    }
}

/// Whether a string value fails `slot`'s checks, or may: it is empty, holds a byte no
/// field holds, is not UTF-8 (a reader need not check strings of every annotation), or
/// fails the field's check ([`text_ok`], as in a line; a `-` is no value, and passes).
fn unclean_string(slot: &Slot, v: &[u8]) -> bool {
    v.is_empty()
        || v.iter().any(|&b| not_in_a_field(b))
        || (!v.is_ascii() && std::str::from_utf8(v).is_err())
        || (!is_dash(v) && !text_ok(slot, v))
}

/// No id yet, in a map of a batch's dictionary values to a builder's ids.
const UNMAPPED: u32 = u32::MAX;
/// The value `-` (no value), in that map.
const DASH: u32 = u32::MAX - 1;

/// The bytes no field of a line holds: a space (fields are split at it), a line end, or
/// any other control character (a line holding one is rejected).
#[inline]
fn not_in_a_field(b: u8) -> bool {
    b <= b' '
}

impl<'a> TypedRows<'a> {
    /// Binds `batch` (its columns in the order of the plan's fields) to `plan` and tests its
    /// rows; `None` when the batch has another number of columns than the plan has fields,
    /// a column's type is not one its field is read from as it is (a string column for a
    /// number field, say), or a row's line could be longer than [`MAX_LINE`]: then every
    /// row takes the text path.
    pub fn new(plan: &'a ColumnPlan, batch: &'a RecordBatch) -> Option<TypedRows<'a>> {
        if batch.num_columns() != plan.slots.len() {
            return None;
        }
        let mut rows = TypedRows {
            plan,
            columns: Vec::with_capacity(plan.slots.len()),
            unclean: vec![false; batch.num_rows()],
            start: plan.slots.iter().position(|s| s.is_start),
            // The spaces between fields, and a byte more.
            line_len: plan.slots.len(),
        };
        for (slot, a) in plan.slots.iter().zip(batch.columns()) {
            let column = match (slot.ty, a.data_type()) {
                (FieldType::Int32 | FieldType::Int64, DataType::Int32) => Typed::I32(a.as_primitive::<Int32Type>()),
                (FieldType::Int32 | FieldType::Int64, DataType::Int64) => Typed::I64(a.as_primitive::<Int64Type>()),
                (FieldType::String, DataType::Utf8) => Typed::Str(a.as_string::<i32>()),
                (FieldType::String, DataType::Dictionary(k, _)) if **k == DataType::Int32 => {
                    let d = a.as_dictionary::<Int32Type>();
                    Typed::Dict {
                        keys: d.keys().values(),
                        values: d.values().as_string_opt::<i32>()?,
                        nulls: a.logical_nulls(),
                    }
                }
                _ => return None,
            };
            rows.line_len += rows.longest(&column);
            rows.test(slot, &column);
            rows.columns.push(column);
        }
        if rows.line_len > MAX_LINE {
            return None;
        }
        rows.test_end_after_start();
        Some(rows)
    }

    /// At least the length of any row's value of `column` in its line: a null is `-`; a
    /// number at most an i64's longest decimal, sign included.
    fn longest(&self, column: &Typed<'_>) -> usize {
        let longest = |s: &StringArray| s.value_offsets().windows(2).map(|w| (w[1] - w[0]) as usize).max();
        match column {
            Typed::Str(s) => longest(s).unwrap_or(0).max(1),
            // A dictionary far larger than the batch (every batch of a column chunk shares
            // it) by the rows' values, not by all of them.
            Typed::Dict { keys, values, .. } if values.len() > 4 * keys.len() => {
                (0..keys.len()).map(|r| column.string(r).map_or(1, <[u8]>::len)).max().unwrap_or(1)
            }
            Typed::Dict { values, .. } => longest(values).unwrap_or(0).max(1),
            Typed::I32(_) | Typed::I64(_) => 20,
        }
    }

    /// Marks the rows whose value in `column` fails `slot`'s checks.
    fn test(&mut self, slot: &Slot, column: &Typed<'_>) {
        match column {
            Typed::I32(a) => self.test_numbers(slot, a.nulls(), a.values().iter().map(|v| i64::from(*v))),
            Typed::I64(a) => self.test_numbers(slot, a.nulls(), a.values().iter().copied()),
            Typed::Str(a) => self.test_strings(slot, a),
            // A dictionary far larger than the batch: its rows' values are tested one by one.
            Typed::Dict { keys, values, .. } if values.len() > 4 * keys.len() => {
                for (row, u) in self.unclean.iter_mut().enumerate() {
                    *u |= column.string(row).is_some_and(|v| unclean_string(slot, v));
                }
            }
            Typed::Dict { keys, values, nulls } => {
                let unclean: Vec<bool> = (0..values.len())
                    .map(|i| values.is_valid(i) && unclean_string(slot, values.value(i).as_bytes()))
                    .collect();
                for (row, (u, k)) in self.unclean.iter_mut().zip(keys.iter()).enumerate() {
                    // (A key past the values is no row a reader hands: unclean all the same.)
                    // A row without a value passes, whatever its key: looked at only then.
                    if unclean.get(*k as usize).is_none_or(|bad| *bad) {
                        *u |= nulls.as_ref().is_none_or(|n| n.is_valid(row));
                    }
                }
            }
        }
    }

    /// Numbers: in the field's type, its check's range, and for `start` a Unix time (a
    /// null passes).
    fn test_numbers(&mut self, slot: &Slot, nulls: Option<&NullBuffer>, values: impl Iterator<Item = i64>) {
        let (mut lo, mut hi) = (slot.lo, slot.hi);
        if slot.ty == FieldType::Int32 {
            (lo, hi) = (lo.max(i32::MIN.into()), hi.min(i32::MAX.into()));
        }
        if slot.is_start {
            (lo, hi) = (lo.max(0), hi.min(MAX_UNIX_SECONDS));
        }
        match nulls {
            None => self.unclean.iter_mut().zip(values).for_each(|(u, v)| *u |= v < lo || v > hi),
            // A null passes, whatever its slot holds: looked at only for a value out of range.
            Some(n) => {
                for (row, (u, v)) in self.unclean.iter_mut().zip(values).enumerate() {
                    if v < lo || v > hi {
                        *u |= n.is_valid(row);
                    }
                }
            }
        }
    }

    /// Strings, row by row (see [`unclean_string`]); the bytes of the whole column are
    /// looked at first, as most columns hold none that a field cannot, and only ASCII.
    fn test_strings(&mut self, slot: &Slot, a: &StringArray) {
        let offsets = a.value_offsets();
        let all = &a.value_data()[offsets[0] as usize..offsets[offsets.len() - 1] as usize];
        let plain = all.iter().all(|&b| !not_in_a_field(b) && b.is_ascii()) && !checks_text(slot);
        for (row, u) in self.unclean.iter_mut().enumerate() {
            if a.is_valid(row) {
                let v = a.value(row).as_bytes();
                *u |= if plain { v.is_empty() } else { unclean_string(slot, v) };
            }
        }
    }

    /// A record's `end` is not before its `start` (where both have a value).
    fn test_end_after_start(&mut self) {
        let end = self.plan.slots.iter().position(|s| s.is_end);
        let (Some(s), Some(e)) = (self.start, end) else { return };
        let value = |c: &Typed<'_>, row: usize| match c {
            Typed::I32(a) => i64::from(a.values()[row]),
            Typed::I64(a) => a.values()[row],
            Typed::Str(_) | Typed::Dict { .. } => unreachable!("start and end are numbers"),
        };
        let (start, end) = (&self.columns[s], &self.columns[e]);
        let both_valid = |row: usize| end.is_valid(row) && start.is_valid(row);
        if let (Typed::I64(a), Typed::I64(b)) = (start, end) {
            // AWS's types: the values compared first, the rows' nulls only where they must be.
            for (row, (u, (s, e))) in self.unclean.iter_mut().zip(a.values().iter().zip(b.values().iter())).enumerate()
            {
                if e < s {
                    *u |= both_valid(row);
                }
            }
            return;
        }
        for (row, u) in self.unclean.iter_mut().enumerate() {
            *u |= both_valid(row) && value(end, row) < value(start, row);
        }
    }

    /// At least the length of any row's line (each row's bytes, as a batch counts them).
    pub fn line_len(&self) -> usize {
        self.line_len
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.unclean.len()
    }

    /// True for a batch without rows.
    pub fn is_empty(&self) -> bool {
        self.unclean.is_empty()
    }

    /// Whether `row` passes every check, and is read as it is.
    #[inline]
    pub fn is_clean(&self, row: usize) -> bool {
        !self.unclean[row]
    }

    /// The `start` of `row` (`None` when the format has none, or the row's is null).
    #[inline]
    pub fn start(&self, row: usize) -> Option<i64> {
        let c = &self.columns[self.start?];
        c.is_valid(row).then(|| match c {
            Typed::I32(a) => i64::from(a.value(row)),
            Typed::I64(a) => a.value(row),
            Typed::Str(_) | Typed::Dict { .. } => unreachable!("start is a number"),
        })
    }
}

impl BatchBuilder {
    /// Appends rows `rows` of `typed`, each clean ([`TypedRows::is_clean`]), as
    /// [`BatchBuilder::append`] appends their lines.
    pub fn append_typed(&mut self, typed: &TypedRows<'_>, rows: Range<usize>) {
        debug_assert!(rows.clone().all(|r| typed.is_clean(r)));
        let plan = typed.plan;
        if self.rows == 0 {
            // A batch that starts with typed rows keeps their dictionaries' ids for its
            // plain string columns (addresses) too: each value is hashed once per input
            // batch, not once per row, and the sort and the writer move ids.
            for (slot, column) in plan.slots.iter().zip(&typed.columns) {
                if let (ColumnBuilder::Text(_), Typed::Dict { .. }) = (&self.columns[slot.column], column) {
                    self.columns[slot.column] = ColumnBuilder::Dict(DictBuilder::spliced(self.capacity));
                    self.as_dictionary.push(slot.column);
                }
            }
        }
        for (slot, column) in plan.slots.iter().zip(&typed.columns) {
            match (&mut self.columns[slot.column], column) {
                (ColumnBuilder::I32(b), Typed::I32(a)) => {
                    b.append_array(&PrimitiveArray::slice(a, rows.start, rows.len()))
                }
                // Clean rows hold values in the field's type.
                (ColumnBuilder::I32(b), Typed::I64(a)) => {
                    rows.clone().for_each(|r| b.append_option(a.is_valid(r).then(|| a.value(r) as i32)))
                }
                (ColumnBuilder::I64(b), Typed::I32(a)) => {
                    rows.clone().for_each(|r| b.append_option(a.is_valid(r).then(|| i64::from(a.value(r)))))
                }
                (ColumnBuilder::I64(b), Typed::I64(a)) => {
                    b.append_array(&PrimitiveArray::slice(a, rows.start, rows.len()))
                }
                (ColumnBuilder::Dict(b), Typed::Dict { keys, values, nulls }) if rows.len() >= values.len() / 4 => {
                    // Each value of the batch's dictionary hashed once, when first needed; the
                    // rows' ids are collected first and appended at once.
                    let mut ids = vec![UNMAPPED; values.len()];
                    let mut rows_ids = std::mem::take(&mut self.scratch);
                    rows_ids.clear();
                    rows_ids.extend(rows.clone().map(|r| {
                        if nulls.as_ref().is_some_and(|n| n.is_null(r)) {
                            return DASH;
                        }
                        let id = &mut ids[keys[r] as usize];
                        if *id == UNMAPPED {
                            let v = values.value(keys[r] as usize).as_bytes();
                            *id = if is_dash(v) { DASH } else { b.id_of(v) };
                        }
                        *id
                    }));
                    b.append_ids(&rows_ids, DASH);
                    self.scratch = rows_ids;
                }
                (text @ (ColumnBuilder::Dict(_) | ColumnBuilder::Text(_)), Typed::Str(_) | Typed::Dict { .. }) => {
                    for r in rows.clone() {
                        text.append_text(column.string(r).filter(|v| !is_dash(v)));
                    }
                }
                _ => unreachable!("TypedRows::new bound each column to its field's type"),
            }
        }
        for &c in &plan.missing {
            match &mut self.columns[c] {
                ColumnBuilder::I32(b) => b.append_nulls(rows.len()),
                ColumnBuilder::I64(b) => b.append_nulls(rows.len()),
                text => (0..rows.len()).for_each(|_| text.append_text(None)),
            }
        }
        self.rows += rows.len();
        self.bytes += rows.len() * typed.line_len;
    }
}
