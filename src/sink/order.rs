//! The order rows are written in: each batch sorted by the sort columns, ascending,
//! nulls last, which narrows page statistics for lookups and compresses better.

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, DictionaryArray, RecordBatch, StringArray, UInt32Array};
use arrow_ord::sort::{SortColumn, lexsort_to_indices};
use arrow_schema::SortOptions;
use arrow_select::take::take_record_batch;

use crate::error::{Error, Result};

/// Ascending, nulls last: the order batches are sorted in.
pub(super) const NULLS_LAST: SortOptions = SortOptions { descending: false, nulls_first: false };

/// The batch sorted by the columns at `sort_columns` (nulls last), or `None` when there is
/// nothing to sort (no sort columns, fewer than two rows).
pub(super) fn sorted(batch: &RecordBatch, sort_columns: &[usize]) -> Result<Option<RecordBatch>> {
    if sort_columns.is_empty() || batch.num_rows() < 2 {
        return Ok(None);
    }
    let fail = |e: arrow_schema::ArrowError| Error::Failed(format!("cannot sort a batch: {e}"));
    if let [i] = sort_columns[..] {
        let column = batch.column(i);
        if let Some(text) = column.as_any().downcast_ref::<StringArray>() {
            return Ok(Some(take_record_batch(batch, &text_sort_indices(text)).map_err(fail)?));
        }
        if let Some(dict) = column.as_dictionary_opt::<Int32Type>()
            && let Some(values) = dict.values().as_string_opt::<i32>()
        {
            return Ok(Some(take_record_batch(batch, &dict_sort_indices(dict, values)).map_err(fail)?));
        }
    }
    let keys: Vec<SortColumn> = sort_columns
        .iter()
        .map(|&i| SortColumn { values: batch.column(i).clone(), options: Some(NULLS_LAST) })
        .collect();
    let idx = lexsort_to_indices(&keys, None).map_err(fail)?;
    Ok(Some(take_record_batch(batch, &idx).map_err(fail)?))
}

/// A value's first 16 bytes, zero-padded, as a big-endian integer: keys that order as the
/// bytes do, where they differ (an IPv4 address fits whole); values that share them, or
/// differ only in trailing zero bytes or past them, tie and are ordered by the whole value.
pub(super) fn prefix_key(v: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let n = v.len().min(16);
    b[..n].copy_from_slice(&v[..n]);
    u128::from_be_bytes(b)
}

/// The order that sorts a string column ascending, nulls last (what `lexsort_to_indices`
/// gives), without a string comparison per step: each value's first 16 bytes, zero-padded,
/// are a big-endian integer key that orders as the text does (an IPv4 address fits whole).
/// Only runs of equal keys that may hide different strings (longer than 16 bytes, or of
/// different lengths) are ordered by the full text.
fn text_sort_indices(a: &StringArray) -> UInt32Array {
    let mut v: Vec<(u128, u32)> =
        (0..a.len()).filter(|&i| a.is_valid(i)).map(|i| (prefix_key(a.value(i).as_bytes()), i as u32)).collect();
    v.sort_unstable();
    let mut start = 0;
    while start < v.len() {
        let mut end = start + 1;
        while end < v.len() && v[end].0 == v[start].0 {
            end += 1;
        }
        let run = &mut v[start..end];
        let len0 = a.value(run[0].1 as usize).len();
        if run.len() > 1 && run.iter().any(|&(_, i)| a.value(i as usize).len() != len0 || len0 > 16) {
            run.sort_unstable_by(|x, y| a.value(x.1 as usize).cmp(a.value(y.1 as usize)).then(x.1.cmp(&y.1)));
        }
        start = end;
    }
    let nulls = (0..a.len()).filter(|&i| a.is_null(i)).map(|i| i as u32);
    UInt32Array::from_iter_values(v.into_iter().map(|(_, i)| i).chain(nulls))
}

/// The order that sorts a dictionary column of strings as [`text_sort_indices`] sorts
/// the same strings (ascending, nulls last, equal values in row order): the distinct
/// values are ranked once, then the rows are counted out by their value's rank, so no
/// string is compared per row.
fn dict_sort_indices(d: &DictionaryArray<Int32Type>, values: &StringArray) -> UInt32Array {
    // Equal strings at several places of the values share a rank; null values rank last.
    let mut rank = vec![u32::MAX; values.len()];
    let mut ranks = 0u32;
    let mut prev: Option<&str> = None;
    for &v in text_sort_indices(values).values() {
        let v = v as usize;
        if values.is_null(v) {
            break;
        }
        if prev != Some(values.value(v)) {
            ranks += 1;
            prev = Some(values.value(v));
        }
        rank[v] = ranks - 1;
    }
    let keys = d.keys();
    let of_row: Vec<u32> = (0..keys.len())
        .map(|r| if keys.is_null(r) { ranks } else { rank[keys.value(r) as usize].min(ranks) })
        .collect();
    // A counting sort: stable, so rows of one value stay in row order.
    let mut start = vec![0u32; ranks as usize + 2];
    for &k in &of_row {
        start[k as usize + 1] += 1;
    }
    for k in 1..start.len() {
        start[k] += start[k - 1];
    }
    let mut out = vec![0u32; of_row.len()];
    for (r, &k) in of_row.iter().enumerate() {
        out[start[k as usize] as usize] = r as u32;
        start[k as usize] += 1;
    }
    UInt32Array::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array};

    #[test]
    fn text_sort_orders_like_lexsort() {
        // Addresses of every length, IPv6 longer than the 16-byte key, shared prefixes,
        // a NUL byte, empty strings and nulls, with many repeats.
        let pool = [
            Some("10.192.0.4"),
            Some("10.192.0.40"),
            Some("10.192.100.200"),
            Some("10.192.20.1"),
            Some("2600:1f18:4a2:7e00::1"),
            Some("2600:1f18:4a2:7e00::10"),
            Some("2600:1f18:4a2:7e00:1::"),
            Some("fd12:3456:789a:1::2"),
            Some("a"),
            Some("a\0"),
            Some(""),
            Some("0123456789abcdef"),
            Some("0123456789abcdefg"),
            Some("0123456789abcdee"),
            None,
        ];
        let mut x = 7u64;
        let values: Vec<Option<&str>> = (0..5000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                pool[(x >> 33) as usize % pool.len()]
            })
            .collect();
        let a = StringArray::from(values);
        let ours = text_sort_indices(&a);
        let theirs = lexsort_to_indices(
            &[SortColumn {
                values: Arc::new(a.clone()),
                options: Some(SortOptions { descending: false, nulls_first: false }),
            }],
            None,
        )
        .unwrap();
        let text = |idx: &UInt32Array| -> Vec<Option<String>> {
            idx.values().iter().map(|&i| a.is_valid(i as usize).then(|| a.value(i as usize).to_string())).collect()
        };
        let mut seen: Vec<u32> = ours.values().to_vec();
        seen.sort_unstable();
        assert!(seen.iter().copied().eq(0..a.len() as u32), "a permutation of the rows");
        assert_eq!(text(&ours), text(&theirs));
    }

    #[test]
    fn dictionary_sort_orders_like_the_text_sort() {
        // Values in no order, one string at two places of the values, a null value, null
        // keys; every row's text in the same order as the plain column's sort gives.
        let values = StringArray::from(vec![
            Some("10.0.0.9"),
            Some("10.0.0.10"),
            None,
            Some("2600:1f18::1"),
            Some("10.0.0.9"),
            Some(""),
        ]);
        let mut x = 11u64;
        let keys: arrow_array::Int32Array = (0..3000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let k = (x >> 33) % 7;
                (k < 6).then_some(k as i32)
            })
            .collect();
        let d = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values.clone())).unwrap();
        let plain = arrow_cast::cast(&d, &arrow_schema::DataType::Utf8).unwrap();
        let plain = plain.as_string::<i32>();
        let text = |idx: &UInt32Array| -> Vec<(Option<String>, u32)> {
            idx.values()
                .iter()
                .map(|&i| (plain.is_valid(i as usize).then(|| plain.value(i as usize).into()), i))
                .collect()
        };
        let ours = text(&dict_sort_indices(&d, &values));
        let theirs = text(&text_sort_indices(plain));
        // The same rows in the same order: equal values in row order, nulls last.
        assert_eq!(ours, theirs);
    }

    /// Two sort columns go through lexsort; one text column through the integer keys;
    /// without sort columns, or with one row, nothing is sorted.
    #[test]
    fn batches_are_sorted_by_their_sort_columns() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), None, Some("a"), Some("b")]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![2, 1, 3, 1]));
        let batch = RecordBatch::try_from_iter([("a", a), ("n", n)]).unwrap();
        let ints = |b: &RecordBatch| b.column(1).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec();
        assert_eq!(ints(&sorted(&batch, &[0]).unwrap().unwrap()), [3, 2, 1, 1]);
        assert_eq!(ints(&sorted(&batch, &[0, 1]).unwrap().unwrap()), [3, 1, 2, 1]);
        assert_eq!(ints(&sorted(&batch, &[1]).unwrap().unwrap()), [1, 1, 2, 3]);
        assert!(sorted(&batch, &[]).unwrap().is_none());
        assert!(sorted(&batch.slice(0, 1), &[0]).unwrap().is_none());
    }
}
