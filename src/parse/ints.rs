//! An integer column of a batch: its values in a `Vec` and, from its first null on, a
//! validity bitmap. Each field appended is a push: arrow's `PrimitiveBuilder::append_value`
//! is not inlined into the parser's loop (a call per integer of every line, 3% of the text
//! path's instructions under cachegrind).

use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, ScalarBuffer};

/// Builds one integer column (see the module's documentation).
pub(super) struct IntBuilder<P: ArrowPrimitiveType> {
    values: Vec<P::Native>,
    /// Per row, whether it has a value; none until a row has none.
    valid: Option<BooleanBufferBuilder>,
}

impl<P: ArrowPrimitiveType> IntBuilder<P> {
    pub(super) fn with_capacity(rows: usize) -> Self {
        IntBuilder { values: Vec::with_capacity(rows), valid: None }
    }

    /// The validity bitmap, made (every row so far valid) if there is none yet.
    fn valid(&mut self) -> &mut BooleanBufferBuilder {
        let len = self.values.len();
        self.valid.get_or_insert_with(|| {
            let mut b = BooleanBufferBuilder::new(len.max(64));
            b.append_n(len, true);
            b
        })
    }

    #[inline]
    pub(super) fn append_option(&mut self, v: Option<P::Native>) {
        match v {
            Some(v) => {
                self.values.push(v);
                if let Some(valid) = &mut self.valid {
                    valid.append(true);
                }
            }
            None => self.append_null(),
        }
    }

    pub(super) fn append_null(&mut self) {
        self.valid().append(false);
        self.values.push(P::Native::default());
    }

    pub(super) fn append_nulls(&mut self, n: usize) {
        self.valid().append_n(n, false);
        self.values.resize(self.values.len() + n, P::Native::default());
    }

    /// Appends every row of `a`.
    pub(super) fn append_array(&mut self, a: &PrimitiveArray<P>) {
        match a.nulls().filter(|n| n.null_count() > 0) {
            Some(nulls) => self.valid().append_buffer(nulls.inner()),
            None => {
                if let Some(valid) = &mut self.valid {
                    valid.append_n(a.len(), true);
                }
            }
        }
        self.values.extend_from_slice(a.values());
    }

    /// The rows so far as an array (the builder starts again empty).
    pub(super) fn finish(&mut self) -> PrimitiveArray<P> {
        let values = ScalarBuffer::from(std::mem::take(&mut self.values));
        let nulls = self.valid.take().map(|mut v| NullBuffer::new(v.finish()));
        PrimitiveArray::new(values, nulls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use arrow_array::types::Int64Type;

    #[test]
    fn rows_read_back_as_appended() {
        let mut b = IntBuilder::<Int64Type>::with_capacity(2);
        // Values only: no validity bitmap.
        b.append_option(Some(1));
        b.append_array(&Int64Array::from(vec![2, 3]));
        let a = b.finish();
        assert_eq!((a.values().to_vec(), a.nulls().is_none()), (vec![1, 2, 3], true));
        // Nulls among values, a slice with nulls, nulls in a run, from an empty builder.
        b.append_option(Some(4));
        b.append_null();
        let slice = Int64Array::from(vec![Some(5), None, Some(6), Some(7)]).slice(1, 3);
        b.append_array(&slice);
        b.append_nulls(2);
        b.append_option(Some(8));
        let a = b.finish();
        let got: Vec<Option<i64>> = a.iter().collect();
        assert_eq!(got, [Some(4), None, None, Some(6), Some(7), None, None, Some(8)]);
        assert_eq!(a.null_count(), 4);
        assert_eq!(b.finish().len(), 0);
    }
}
