//! Clustering (`--clusters N`): a partition's rows split into N ranges of the first sort
//! column, each range its own row groups, so row-group statistics are narrow. The ranges
//! are cut at quantiles of the partition's first batch big enough to show the spread of
//! values, and kept for the whole run (row groups are known by range number).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_ord::ord::make_comparator;
use arrow_schema::{ArrowError, DataType};
use arrow_select::take::take;

use super::order::NULLS_LAST;

/// A partition's ranges are cut once a batch has this many values per range.
const MIN_ROWS_PER_RANGE: usize = 1024;

/// The ranges of every partition of a sink. Its one lock is held only to find or add a
/// partition's cell (no other lock is taken under it).
pub(super) struct Clusters {
    /// Ranges per partition (1: off).
    n: usize,
    /// Per partition: where its ranges start (sorted; empty: one range).
    bounds: Mutex<HashMap<String, Arc<OnceLock<ArrayRef>>>>,
}

impl Clusters {
    pub(super) fn new(n: usize) -> Clusters {
        Clusters { n, bounds: Mutex::new(HashMap::new()) }
    }

    /// The sorted `batch` cut into `partition`'s ranges of `column` (its first sort
    /// column), as `(range, rows)` slices (no copies); the whole batch as range 0 when not
    /// clustering, or while the partition's ranges are not cut yet.
    pub(super) fn ranges(
        &self,
        partition: &str,
        batch: &RecordBatch,
        column: usize,
    ) -> Result<Vec<(usize, RecordBatch)>, ArrowError> {
        let whole = || Ok(vec![(0, batch.clone())]);
        if self.n < 2 {
            return whole();
        }
        let column = batch.column(column);
        let cell = self.bounds.lock().expect("clusters lock").entry(partition.to_string()).or_default().clone();
        let bounds = match cell.get() {
            Some(b) => b,
            None => match cut_bounds(self.n, column)? {
                Some(b) => cell.get_or_init(|| b),
                None => return whole(),
            },
        };
        // The bounds are plain values; a dictionary column compares with them as one.
        let bounds = match bounds.data_type() == column.data_type() {
            true => bounds.clone(),
            false => arrow_cast::cast(bounds, column.data_type())?,
        };
        let cmp = make_comparator(column.as_ref(), bounds.as_ref(), NULLS_LAST)?;
        let mut out = Vec::with_capacity(bounds.len() + 1);
        let mut start = 0;
        for b in 0..=bounds.len() {
            // Rows are sorted, nulls last: the range ends at the first row not below its bound.
            let end = if b == bounds.len() {
                batch.num_rows()
            } else {
                let (mut lo, mut hi) = (start, batch.num_rows());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if cmp(mid, b).is_lt() { lo = mid + 1 } else { hi = mid }
                }
                lo
            };
            if end > start {
                out.push((b, batch.slice(start, end - start)));
            }
            start = end;
        }
        Ok(out)
    }
}

/// Range starts at quantiles of a sorted column's values, equal ones merged; `None` while
/// the batch is too small to tell the spread.
fn cut_bounds(n: usize, column: &ArrayRef) -> Result<Option<ArrayRef>, ArrowError> {
    let valid = column.len() - column.null_count();
    if valid < MIN_ROWS_PER_RANGE * n {
        return Ok(None);
    }
    let same = make_comparator(column.as_ref(), column.as_ref(), NULLS_LAST)?;
    let mut at: Vec<u32> = Vec::with_capacity(n - 1);
    for k in 1..n {
        let i = valid * k / n;
        if at.last().is_none_or(|&p| same(p as usize, i).is_ne()) && same(0, i).is_ne() {
            at.push(i as u32);
        }
    }
    let bounds = take(column.as_ref(), &UInt32Array::from(at), None)?;
    // Of a dictionary, only the values (not the batch's whole dictionary) are kept.
    match bounds.data_type() {
        DataType::Dictionary(_, values) => Ok(Some(arrow_cast::cast(&bounds, values)?)),
        _ => Ok(Some(bounds)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;

    fn batch(values: impl IntoIterator<Item = Option<i64>>) -> RecordBatch {
        let a: ArrayRef = Arc::new(Int64Array::from_iter(values));
        RecordBatch::try_from_iter([("x", a)]).unwrap()
    }

    fn values(b: &RecordBatch) -> Vec<Option<i64>> {
        b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().iter().collect()
    }

    /// Four ranges cut at the quartiles of the first big batch: the slices are in order,
    /// cover the batch once, and each holds only values of its range (nulls in the last);
    /// a later batch is cut at the same bounds.
    #[test]
    fn a_sorted_batch_is_cut_at_the_first_batchs_quartiles() {
        let c = Clusters::new(4);
        let first = batch((0..8192).map(Some).chain([None; 10]));
        let cut = c.ranges("p", &first, 0).unwrap();
        assert_eq!(cut.iter().map(|(r, _)| *r).collect::<Vec<_>>(), [0, 1, 2, 3]);
        let all: Vec<Option<i64>> = cut.iter().flat_map(|(_, b)| values(b)).collect();
        assert_eq!(all, values(&first));
        assert_eq!(values(&cut[1].1).first(), Some(&Some(2048)));
        assert_eq!(values(&cut[3].1).last(), Some(&None));
        // Another batch of the partition, with values of only two ranges.
        let later = batch([Some(1), Some(5000), Some(5001)]);
        let cut = c.ranges("p", &later, 0).unwrap();
        assert_eq!(
            cut.iter().map(|(r, b)| (*r, values(b))).collect::<Vec<_>>(),
            [(0, vec![Some(1)]), (2, vec![Some(5000), Some(5001)])]
        );
    }

    /// Too few rows to tell the spread, one range, or one value throughout: the whole batch.
    #[test]
    fn small_batches_and_one_range_are_not_cut() {
        let small = batch((0..100).map(Some));
        assert_eq!(Clusters::new(4).ranges("p", &small, 0).unwrap().len(), 1);
        let big = batch((0..10_000).map(Some));
        assert_eq!(Clusters::new(1).ranges("p", &big, 0).unwrap().len(), 1);
        let same = batch(std::iter::repeat_n(Some(7), 10_000));
        let cut = Clusters::new(4).ranges("p", &same, 0).unwrap();
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].1.num_rows(), 10_000);
    }
}
