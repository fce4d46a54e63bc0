//! A string column built as a dictionary while lines are parsed (issue #18: "dictionaries
//! built while parsing"): each distinct value's bytes are kept once per batch, and each
//! row holds its value's id. Most flow-log string fields repeat within a file (its
//! account, interfaces, actions, ids), so the writer takes the ids as they are
//! ([`crate::sink`]) and lookups run once per distinct value ([`crate::enrich`]).
//! Addresses are not built this way from lines (see `ColumnBuilder`): measured on the
//! benchmark's sample, their tables outgrow the cache and the conversion took 18% longer.
//! From typed rows, whose values come as dictionaries already (a Parquet delivery's),
//! they are spliced ([`DictBuilder::spliced`]): measured on the benchmark's deliveries,
//! 8% fewer instructions than plain strings (which the sort and the writer move and hash
//! per row), where deduplicating them here cost 10% more time.
//!
//! One hash per field and, on a hit, one comparison of its bytes ([`crate::hash::Ids`]:
//! open addressing over the ids, its buffers kept from batch to batch).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Int32Array, StringArray};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer, ScalarBuffer};

use crate::hash::Ids;

/// Builds one string column of a batch as Arrow dictionary ids over its distinct values.
pub(super) struct DictBuilder {
    /// Per row: its value's id (0 for a null row).
    keys: Vec<i32>,
    valid: BooleanBufferBuilder,
    nulls: usize,
    /// The distinct values, end to end, and where each starts (Arrow offsets).
    bytes: Vec<u8>,
    offsets: Vec<i32>,
    /// The distinct values' ids by hash.
    ids: Ids,
    /// Values are kept once each (else: each as it is added, none hashed; see
    /// [`DictBuilder::spliced`]).
    distinct: bool,
}

impl DictBuilder {
    pub(super) fn with_capacity(rows: usize) -> DictBuilder {
        DictBuilder {
            keys: Vec::with_capacity(rows),
            valid: BooleanBufferBuilder::new(rows),
            nulls: 0,
            bytes: Vec::new(),
            offsets: vec![0],
            ids: Ids::default(),
            distinct: true,
        }
    }

    /// A builder whose values are not kept distinct: [`id_of`](DictBuilder::id_of) adds
    /// each value it is given, unhashed. For values that come distinct already, a batch of
    /// typed rows' own dictionary at a time (a Parquet delivery's addresses, each copied
    /// when a row first takes it): the dictionaries of several inputs may repeat a value,
    /// which the sort ranks as one and the writer's dictionary holds once.
    pub(super) fn spliced(rows: usize) -> DictBuilder {
        DictBuilder { distinct: false, ..DictBuilder::with_capacity(rows) }
    }

    /// Appends a row holding `tok`.
    #[inline]
    pub(super) fn append_value(&mut self, tok: &[u8]) {
        let id = self.id_of(tok);
        self.append_id(id);
    }

    /// The id of `tok` in this batch's dictionary (added if new).
    #[inline]
    pub(super) fn id_of(&mut self, tok: &[u8]) -> u32 {
        if !self.distinct {
            self.bytes.extend_from_slice(tok);
            self.offsets.push(self.bytes.len() as i32);
            return (self.offsets.len() - 2) as u32;
        }
        let (bytes, offsets) = (&self.bytes, &self.offsets);
        let value = |id: u32| &bytes[offsets[id as usize] as usize..offsets[id as usize + 1] as usize];
        let (id, new) = self.ids.find_or_add(tok, |id| value(id) == tok);
        if new {
            self.bytes.extend_from_slice(tok);
            self.offsets.push(self.bytes.len() as i32);
        }
        id
    }

    /// Appends a row holding the value of id `id` ([`DictBuilder::id_of`]).
    #[inline]
    pub(super) fn append_id(&mut self, id: u32) {
        self.keys.push(id as i32);
        self.valid.append(true);
    }

    /// Appends a row per id of `ids` ([`DictBuilder::id_of`]), `none` standing for a row
    /// without a value.
    pub(super) fn append_ids(&mut self, ids: &[u32], none: u32) {
        let nulls = ids.iter().filter(|&&id| id == none).count();
        if nulls == 0 {
            self.keys.extend(ids.iter().map(|&id| id as i32));
            self.valid.append_n(ids.len(), true);
            return;
        }
        for &id in ids {
            match id == none {
                true => self.append_null(),
                false => self.append_id(id),
            }
        }
    }

    /// Appends a row without a value.
    pub(super) fn append_null(&mut self) {
        self.keys.push(0);
        self.valid.append(false);
        self.nulls += 1;
    }

    /// The rows so far as a dictionary array (the builder starts again empty, its table
    /// kept). The values are checked as UTF-8 here, each distinct one once.
    pub(super) fn finish(&mut self) -> ArrayRef {
        let rows = self.keys.len();
        let nulls = std::mem::replace(&mut self.valid, BooleanBufferBuilder::new(rows)).finish();
        let nulls = (self.nulls > 0).then(|| NullBuffer::new(nulls));
        let keys =
            Int32Array::new(ScalarBuffer::from(std::mem::replace(&mut self.keys, Vec::with_capacity(rows))), nulls);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(&mut self.offsets, vec![0])));
        let values = StringArray::try_new(offsets, std::mem::take(&mut self.bytes).into(), None)
            .expect("lines are checked as UTF-8 before their fields are appended");
        self.nulls = 0;
        self.ids.clear();
        Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).expect("keys index the values"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    fn strings(a: &ArrayRef) -> Vec<Option<String>> {
        let d = a.as_dictionary::<Int32Type>();
        let v = d.values().as_string::<i32>();
        d.keys().iter().map(|k| k.map(|k| v.value(k as usize).to_string())).collect()
    }

    #[test]
    fn rows_read_back_as_appended_and_each_value_is_kept_once() {
        // Many distinct values (the table grows several times), repeats, empty strings, a
        // value and its prefix, values over 8 and 16 bytes, non-ASCII text, and nulls; two
        // batches from one builder.
        let mut b = DictBuilder::with_capacity(16);
        for batch in 0..2 {
            let mut want = Vec::new();
            for i in 0..20_000usize {
                let v = match i % 7 {
                    0 => None,
                    1 => Some(String::new()),
                    2 => Some("10.0.0.1".to_string()),
                    3 => Some("10.0.0.10".to_string()),
                    4 => Some(format!("2600:1f18:4a2:7e00::{:x}", i % 3001)),
                    5 => Some("Zürich – ☃".to_string()),
                    _ => Some(format!("10.{}.{}.{}", batch, i % 251, i % 13)),
                };
                match &v {
                    Some(s) => b.append_value(s.as_bytes()),
                    None => b.append_null(),
                }
                want.push(v);
            }
            let a = b.finish();
            assert_eq!(strings(&a), want);
            let d = a.as_dictionary::<Int32Type>();
            let values: Vec<&str> = d.values().as_string::<i32>().iter().flatten().collect();
            let mut distinct = values.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(values.len(), distinct.len(), "each value once");
            assert_eq!(a.null_count(), want.iter().filter(|v| v.is_none()).count());
        }
    }

    #[test]
    fn a_batch_of_nulls_only_and_an_empty_batch() {
        let mut b = DictBuilder::with_capacity(4);
        b.append_null();
        b.append_null();
        let a = b.finish();
        assert_eq!((a.len(), a.null_count()), (2, 2));
        let a = b.finish();
        assert_eq!(a.len(), 0);
    }
}
