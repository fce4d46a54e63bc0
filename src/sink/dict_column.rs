//! Column chunks we write ourselves (issue #18): string columns, whose batches are Arrow
//! dictionaries (the parser's, and the enrichment's: keys into one shared array of a
//! lookup table's answers) or plain strings (the addresses), and dictionary-encoded
//! INT32/INT64 columns (ports, protocol, timestamps). arrow-rs's writer hashes every
//! row's value into its dictionary, compares it for the statistics and hashes it for the
//! bloom filter; here a dictionary's row costs one array lookup (its value's id in this
//! chunk's dictionary: each value of a batch's values array is mapped once), a plain row one
//! hash into the chunk's dictionary (none when it equals the row before), an integer one
//! slot of a direct table (a hash only for values far from the chunk's first), and
//! dictionary page, statistics, column index and bloom filter are computed over the chunk's
//! distinct values.
//!
//! The chunk: a PLAIN dictionary page, then format-v1 data pages of RLE definition levels
//! and RLE/bit-packed ids, each compressed with the column's codec; chunk statistics, a
//! column index and an offset index, their bounds truncated as arrow-rs truncates them
//! (at a character; a cut maximum raised); size statistics (rows null and not, the values'
//! bytes) per page and chunk; the bloom filter, where the column has one.
//! Whatever this path does not do the same way as arrow-rs (a dictionary past its size
//! limit, statistics other than per page, other codecs, other string or integer types, an
//! all-null chunk) is handed to arrow-rs's own writer for the column, rows buffered so far first,
//! so the file is what it would have written.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, DictionaryArray, Int32Array, Int64Array, PrimitiveArray, StringArray,
};
use arrow_schema::{DataType, FieldRef};
use bytes::Bytes;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, compute_leaves};
use parquet::basic::{BoundaryOrder, Compression, Encoding, PageType, Type as PhysicalType};
use parquet::bloom_filter::Sbbf;
use parquet::column::page::{CompressedPage, Page, PageWriteSpec, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, LevelHistogram, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, SerializedRowGroupWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use super::order::prefix_key;
use crate::hash::{FxHashMap, Ids, row_ids};

/// A row without a value.
const NULL: u32 = u32::MAX;

/// A value of a batch's values array not mapped to the chunk's dictionary yet.
const UNMAPPED: u32 = NULL - 1;

/// Longest values array whose ids are mapped to the chunk's through an array (longer ones,
/// through a hash map of the values used: filling the array per chunk would cost more).
const DENSE_MAX: usize = 1 << 16;

/// One column's encoder in a row group: arrow-rs's, or ours for dictionary strings.
/// (arrow-rs's is large; a row group holds one per column and none is moved per row.)
#[allow(clippy::large_enum_variant)]
pub(super) enum ColumnEncoder {
    Arrow(ArrowColumnWriter),
    Dict(Box<DictColumn>),
}

/// A finished column chunk, to append to a row group.
pub(super) enum Chunk {
    Arrow(ArrowColumnChunk),
    Own { data: Bytes, close: ColumnCloseResult },
}

impl Chunk {
    /// Its bytes in the file.
    pub(super) fn compressed_size(&self) -> u64 {
        match self {
            Chunk::Arrow(c) => c.close().metadata.compressed_size() as u64,
            Chunk::Own { close, .. } => close.metadata.compressed_size() as u64,
        }
    }

    pub(super) fn append_to<W: std::io::Write + Send>(
        self,
        row_group: &mut SerializedRowGroupWriter<'_, W>,
    ) -> Result<()> {
        match self {
            Chunk::Arrow(c) => c.append_to_row_group(row_group),
            Chunk::Own { data, close } => row_group.append_column(&data, close),
        }
    }
}

impl ColumnEncoder {
    /// The encoder for `field`'s column (`descr`): ours where [`DictColumn::fits`], else `arrow`.
    pub(super) fn new(
        arrow: ArrowColumnWriter,
        field: &FieldRef,
        descr: &ColumnDescPtr,
        props: &Arc<WriterProperties>,
    ) -> Self {
        if DictColumn::fits(field, descr, props) {
            ColumnEncoder::Dict(Box::new(DictColumn::new(arrow, field.clone(), descr.clone(), props.clone())))
        } else {
            ColumnEncoder::Arrow(arrow)
        }
    }

    pub(super) fn memory_size(&self) -> usize {
        match self {
            ColumnEncoder::Arrow(w) => w.memory_size(),
            ColumnEncoder::Dict(d) => d.memory_size(),
        }
    }

    pub(super) fn get_estimated_total_bytes(&self) -> usize {
        match self {
            ColumnEncoder::Arrow(w) => w.get_estimated_total_bytes(),
            ColumnEncoder::Dict(d) => d.estimated_bytes(),
        }
    }

    pub(super) fn close(self) -> Result<Chunk> {
        match self {
            ColumnEncoder::Arrow(w) => w.close().map(Chunk::Arrow),
            ColumnEncoder::Dict(d) => d.close(),
        }
    }
}

fn write_arrow(w: &mut ArrowColumnWriter, field: &FieldRef, array: &ArrayRef) -> Result<()> {
    for leaf in compute_leaves(field, &for_arrow_rs(field, array)?)? {
        w.write(&leaf)?;
    }
    Ok(())
}

/// `array` as arrow-rs's writer should get it for `field`: a dictionary for a plain string
/// field (the parser's batches) as the strings, since arrow-rs sizes the pages of plain
/// strings by their bytes but those of dictionaries only by their rows.
pub(super) fn for_arrow_rs(field: &FieldRef, array: &ArrayRef) -> Result<ArrayRef> {
    match (field.data_type(), array.data_type()) {
        (DataType::Utf8, DataType::Dictionary(..)) => Ok(arrow_cast::cast(array, &DataType::Utf8)?),
        _ => Ok(array.clone()),
    }
}

/// A dictionary-encoded string column chunk in progress (see the module docs).
pub(super) struct DictColumn {
    field: FieldRef,
    descr: ColumnDescPtr,
    props: Arc<WriterProperties>,
    /// arrow-rs's writer for this column: idle until the chunk is handed to it.
    arrow: ArrowColumnWriter,
    handed_over: bool,
    /// The values array the last batch's keys pointed into, which `local` maps (batches
    /// that share one, as the enrichment columns' do, map each value once per chunk).
    values: Option<ArrayRef>,
    /// Per value of `values`: its id in this chunk's dictionary, [`NULL`] (a null value),
    /// or [`UNMAPPED`].
    local: Vec<u32>,
    /// As `local`, for values arrays longer than [`DENSE_MAX`] (a country database's
    /// answers): only the values the chunk uses.
    sparse: FxHashMap<u32, u32>,
    /// The chunk's dictionary: its distinct values, each once, in order of first use.
    dict: Dictionary,
    /// Per row: its id in the dictionary, or [`NULL`] (an integer chunk's: the rows not in
    /// a sealed page yet).
    rows: Vec<u32>,
    /// An integer chunk's full pages, encoded and compressed as they filled ([`DictColumn::seal`]).
    sealed: Vec<Sealed>,
    /// Rows in `sealed`.
    sealed_rows: usize,
    /// Ids the sealed pages use (see [`data_page`]).
    seen: usize,
}

/// A data page encoded and compressed before its chunk closed.
struct Sealed {
    buf: Bytes,
    uncompressed: usize,
    rows: usize,
    nulls: u64,
    /// Ids of its lowest and highest value (None: a page of nulls).
    bounds: Option<(u32, u32)>,
}

/// A chunk's dictionary: its distinct values, each once, in order of first use.
enum Dictionary {
    Strings(Strings),
    Ints(Ints),
}

/// Distinct strings, each with its id (its place in the order they came in).
#[derive(Default)]
struct Strings {
    bytes: Vec<u8>,
    /// Where each value ends in `bytes`.
    ends: Vec<usize>,
    ids: Ids,
}

/// Value `id` of a dictionary's `bytes` and `ends`.
fn value_at<'a>(bytes: &'a [u8], ends: &[usize], id: u32) -> &'a [u8] {
    let id = id as usize;
    let start = if id == 0 { 0 } else { ends[id - 1] };
    &bytes[start..ends[id]]
}

impl Strings {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn value(&self, id: u32) -> &[u8] {
        value_at(&self.bytes, &self.ends, id)
    }

    fn value_len(&self, id: u32) -> usize {
        let id = id as usize;
        self.ends[id] - if id == 0 { 0 } else { self.ends[id - 1] }
    }

    /// The id of `v`, added if new.
    #[inline]
    fn id(&mut self, v: &[u8]) -> u32 {
        let (bytes, ends) = (&self.bytes, &self.ends);
        let (id, new) = self.ids.find_or_add(v, |id| value_at(bytes, ends, id) == v);
        if new {
            self.bytes.extend_from_slice(v);
            self.ends.push(self.bytes.len());
        }
        id
    }

    fn memory_size(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 8 + self.ids.memory_size()
    }

    fn to_array(&self) -> StringArray {
        StringArray::from_iter_values(
            (0..self.len() as u32)
                .map(|id| std::str::from_utf8(self.value(id)).expect("dictionary values come from string arrays")),
        )
    }

    /// Ids in byte order (what Parquet orders UTF-8 strings by): by [`prefix_key`], then by
    /// the whole value where those tie.
    fn order(&self) -> Vec<u32> {
        let mut keyed: Vec<(u128, u32)> = (0..self.len() as u32).map(|id| (prefix_key(self.value(id)), id)).collect();
        keyed.sort_unstable_by(|x, y| x.0.cmp(&y.0).then_with(|| self.value(x.1).cmp(self.value(y.1))));
        keyed.into_iter().map(|(_, id)| id).collect()
    }
}

/// Slots of [`Ints`]'s direct table: values within half of it either side of a chunk's
/// first value (every port and protocol, and the timestamps within 18 hours of the first)
/// are found without hashing. 512 KiB, zeroed, so only the slots used are touched.
const WINDOW: usize = 1 << 17;
// One bit of `Ints::touched` per 4 KiB page (1,024 slots) of the window.
const _: () = assert!(WINDOW / 1024 == u128::BITS as usize);

/// Distinct integers (an INT32 or INT64 column's), each with its id.
struct Ints {
    /// INT32 (written as 4 bytes) or INT64.
    wide: bool,
    values: Vec<i64>,
    /// The value of slot 0 of `window`.
    base: i64,
    /// Per value from `base`: its id + 1, or 0.
    window: Vec<u32>,
    /// The 4 KiB pages of `window` that hold an id (bit `slot >> 10`): the memory it takes,
    /// since the zeroed pages no value touched are never given to the process.
    touched: u128,
    /// The ids of values outside the window (few, in flow logs; std's keyed hash, since an
    /// input chooses them).
    others: std::collections::HashMap<i64, u32>,
}

impl Ints {
    fn new(wide: bool) -> Ints {
        Ints { wide, values: Vec::new(), base: 0, window: Vec::new(), touched: 0, others: Default::default() }
    }

    fn width(&self) -> usize {
        if self.wide { 8 } else { 4 }
    }

    /// The id of `v`, added if new.
    #[inline]
    fn id(&mut self, v: i64) -> u32 {
        if self.window.is_empty() {
            self.base = v.saturating_sub(WINDOW as i64 / 2);
            self.window = vec![0; WINDOW];
        }
        let next = self.values.len() as u32;
        let slot = (v as i128 - self.base as i128) as u128;
        let id = if slot < WINDOW as u128 {
            let s = &mut self.window[slot as usize];
            if *s != 0 {
                return *s - 1;
            }
            *s = next + 1;
            self.touched |= 1 << (slot >> 10);
            next
        } else {
            *self.others.entry(v).or_insert(next)
        };
        if id == next {
            self.values.push(v);
        }
        id
    }

    fn memory_size(&self) -> usize {
        self.values.capacity() * 8 + self.touched.count_ones() as usize * 4096 + self.others.capacity() * 16
    }

    /// Ids in order of their values (signed, as Parquet orders INT32 and INT64).
    fn order(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.values.len() as u32).collect();
        ids.sort_unstable_by_key(|&id| self.values[id as usize]);
        ids
    }

    /// Value `id` as the file stores it: 4 or 8 bytes, little-endian.
    fn plain(&self, id: u32) -> Vec<u8> {
        let v = self.values[id as usize];
        if self.wide { v.to_le_bytes().to_vec() } else { (v as i32).to_le_bytes().to_vec() }
    }
}

impl Dictionary {
    fn for_field(field: &FieldRef) -> Dictionary {
        match field.data_type() {
            DataType::Int32 => Dictionary::Ints(Ints::new(false)),
            DataType::Int64 => Dictionary::Ints(Ints::new(true)),
            _ => Dictionary::Strings(Strings::default()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Dictionary::Strings(d) => d.len(),
            Dictionary::Ints(d) => d.values.len(),
        }
    }

    /// Bytes of its PLAIN page: a 4-byte length before each string; each integer's bytes.
    fn page_bytes(&self) -> usize {
        match self {
            Dictionary::Strings(d) => d.bytes.len() + 4 * d.ends.len(),
            Dictionary::Ints(d) => d.values.len() * d.width(),
        }
    }

    fn memory_size(&self) -> usize {
        match self {
            Dictionary::Strings(d) => d.memory_size(),
            Dictionary::Ints(d) => d.memory_size(),
        }
    }

    /// The PLAIN dictionary page.
    fn plain_page(&self) -> Vec<u8> {
        let mut plain = Vec::with_capacity(self.page_bytes());
        match self {
            Dictionary::Strings(d) => {
                for id in 0..d.len() as u32 {
                    let v = d.value(id);
                    plain.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    plain.extend_from_slice(v);
                }
            }
            Dictionary::Ints(d) if d.wide => d.values.iter().for_each(|v| plain.extend_from_slice(&v.to_le_bytes())),
            Dictionary::Ints(d) => d.values.iter().for_each(|&v| plain.extend_from_slice(&(v as i32).to_le_bytes())),
        }
        plain
    }

    /// Ids in the order Parquet sorts the column's values by.
    fn order(&self) -> Vec<u32> {
        match self {
            Dictionary::Strings(d) => d.order(),
            Dictionary::Ints(d) => d.order(),
        }
    }

    /// A column index's bounds for values `lo` to `hi` (ids): a string's cut to `limit`
    /// as arrow-rs cuts them, an integer's bytes; and whether each was cut.
    fn bounds(&self, lo: u32, hi: u32, limit: Option<usize>) -> ((Vec<u8>, bool), (Vec<u8>, bool)) {
        match self {
            Dictionary::Strings(d) => (truncate_min(d.value(lo), limit), truncate_max(d.value(hi), limit)),
            Dictionary::Ints(d) => ((d.plain(lo), false), (d.plain(hi), false)),
        }
    }

    /// Chunk statistics for values `lo` to `hi` (ids) and `nulls` rows without one.
    fn statistics(&self, lo: u32, hi: u32, nulls: u64, limit: Option<usize>) -> Statistics {
        match self {
            Dictionary::Strings(_) => {
                let ((min, min_cut), (max, max_cut)) = self.bounds(lo, hi, limit);
                let (min, max) = (parquet::data_type::ByteArray::from(min), parquet::data_type::ByteArray::from(max));
                match Statistics::byte_array(Some(min), Some(max), None, Some(nulls), false) {
                    Statistics::ByteArray(s) => {
                        Statistics::ByteArray(s.with_min_is_exact(!min_cut).with_max_is_exact(!max_cut))
                    }
                    other => other,
                }
            }
            Dictionary::Ints(d) => {
                let (min, max) = (d.values[lo as usize], d.values[hi as usize]);
                if d.wide {
                    Statistics::int64(Some(min), Some(max), None, Some(nulls), false)
                } else {
                    Statistics::int32(Some(min as i32), Some(max as i32), None, Some(nulls), false)
                }
            }
        }
    }

    /// Adds every value to a bloom filter, as arrow-rs adds each row's.
    fn insert_into(&self, filter: &mut Sbbf) {
        match self {
            Dictionary::Strings(d) => (0..d.len() as u32).for_each(|id| filter.insert(d.value(id))),
            Dictionary::Ints(d) if d.wide => d.values.iter().for_each(|v| filter.insert(v)),
            Dictionary::Ints(d) => d.values.iter().for_each(|&v| filter.insert(&(v as i32))),
        }
    }

    /// The rows (ids, or [`NULL`]) as an array of the column's type, for arrow-rs's writer.
    fn to_array(&self, rows: &[u32]) -> Result<ArrayRef> {
        let valid = |id: u32| id != NULL;
        Ok(match self {
            Dictionary::Strings(d) => {
                let keys: Int32Array = rows.iter().map(|&id| valid(id).then_some(id as i32)).collect();
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(d.to_array()))?)
            }
            Dictionary::Ints(d) if d.wide => {
                Arc::new(Int64Array::from_iter(rows.iter().map(|&id| valid(id).then(|| d.values[id as usize]))))
            }
            Dictionary::Ints(d) => {
                Arc::new(Int32Array::from_iter(rows.iter().map(|&id| valid(id).then(|| d.values[id as usize] as i32))))
            }
        })
    }
}

impl DictColumn {
    /// Whether a column is one this path writes as arrow-rs would: a flat nullable string
    /// column (in the file: its batches may be dictionaries or plain strings), or a plain
    /// INT32 or INT64 one, with the writer's defaults for how it is encoded and indexed.
    fn fits(field: &FieldRef, descr: &ColumnDescPtr, props: &WriterProperties) -> bool {
        let col = descr.path();
        let kind = match field.data_type() {
            DataType::Dictionary(k, v) => **k == DataType::Int32 && **v == DataType::Utf8,
            DataType::Int32 => descr.physical_type() == PhysicalType::INT32 && descr.logical_type_ref().is_none(),
            DataType::Int64 => descr.physical_type() == PhysicalType::INT64 && descr.logical_type_ref().is_none(),
            t => *t == DataType::Utf8,
        };
        kind && descr.max_rep_level() == 0
            && descr.max_def_level() == 1
            && props.writer_version() == WriterVersion::PARQUET_1_0
            && props.dictionary_enabled(col)
            && props.statistics_enabled(col) == EnabledStatistics::Page
            && !props.write_page_header_statistics(col)
            && !props.offset_index_disabled()
            && props.content_defined_chunking().is_none()
            && matches!(props.compression(col), Compression::ZSTD(_) | Compression::UNCOMPRESSED)
    }

    fn new(arrow: ArrowColumnWriter, field: FieldRef, descr: ColumnDescPtr, props: Arc<WriterProperties>) -> Self {
        DictColumn {
            descr,
            props,
            arrow,
            handed_over: false,
            values: None,
            local: Vec::new(),
            sparse: FxHashMap::default(),
            dict: Dictionary::for_field(&field),
            field,
            rows: Vec::new(),
            sealed: Vec::new(),
            sealed_rows: 0,
            seen: 0,
        }
    }

    /// Adds the column's rows of a batch: ids of a dictionary's values, or a plain string
    /// column's values (each row's hashed into the chunk's dictionary, as arrow-rs's writer
    /// would; a row equal to the one before takes its id unhashed: the sort column's runs).
    pub(super) fn write(&mut self, array: &ArrayRef) -> Result<()> {
        if !self.handed_over {
            if let Some(dict) = array.as_dictionary_opt::<Int32Type>() {
                self.write_ids(dict);
                return self.check_size(dict.values().len() <= dict.len());
            }
            if let Some(strings) = array.as_string_opt::<i32>() {
                self.write_strings(strings);
                return self.check_size(false);
            }
            if let Some(ints) = array.as_primitive_opt::<Int32Type>() {
                self.write_ints(ints);
                self.check_size(false)?;
                return self.seal();
            }
            if let Some(ints) = array.as_primitive_opt::<Int64Type>() {
                self.write_ints(ints);
                self.check_size(false)?;
                return self.seal();
            }
        }
        self.hand_over()?;
        write_arrow(&mut self.arrow, &self.field, array)
    }

    /// After a batch: the chunk is handed over if its dictionary outgrew its page; else,
    /// with `own_values` (the batch's values were its own, as the parser's are: no later
    /// batch shares them), neither they nor the map of their ids is held (nor counted)
    /// past it. Larger values arrays are a lookup table's answers, which every batch shares.
    fn check_size(&mut self, own_values: bool) -> Result<()> {
        if self.dict.page_bytes() > self.props.column_dictionary_page_size_limit(self.descr.path()) {
            self.hand_over()?;
        } else if own_values {
            self.values = None;
            // (A batch of spliced values, as many as its rows, makes that map large.)
            self.local = Vec::new();
        }
        Ok(())
    }

    fn write_strings(&mut self, strings: &StringArray) {
        self.rows.reserve(strings.len());
        let Dictionary::Strings(dict) = &mut self.dict else { unreachable!("a string column's dictionary") };
        let rows = &mut self.rows;
        row_ids(strings, |_, v| dict.id(v), |id| rows.push(id.unwrap_or(NULL)));
    }

    /// An integer column's rows: each value's id (a row equal to the one before takes its id
    /// again, without a lookup).
    fn write_ints<T: ArrowPrimitiveType<Native: Into<i64>>>(&mut self, ints: &PrimitiveArray<T>) {
        self.rows.reserve(ints.len());
        let Dictionary::Ints(dict) = &mut self.dict else { unreachable!("an integer column's dictionary") };
        let mut last: Option<(i64, u32)> = None;
        let mut id_of = |v: i64| match last {
            Some((lv, id)) if lv == v => id,
            _ => {
                let id = dict.id(v);
                last = Some((v, id));
                id
            }
        };
        match ints.nulls().filter(|n| n.null_count() > 0) {
            None => self.rows.extend(ints.values().iter().map(|&v| id_of(v.into()))),
            Some(nulls) if nulls.null_count() == ints.len() => self.rows.resize(self.rows.len() + ints.len(), NULL),
            Some(nulls) => self.rows.extend(
                ints.values().iter().zip(nulls.iter()).map(|(&v, valid)| if valid { id_of(v.into()) } else { NULL }),
            ),
        }
    }

    fn write_ids(&mut self, dict: &DictionaryArray<Int32Type>) {
        if !self.values.as_ref().is_some_and(|v| Arc::ptr_eq(v, dict.values())) {
            // Another values array: its ids are mapped afresh.
            let values = dict.values();
            // A batch's own values (the parser's) are all used: an array of them is dense.
            self.local.clear();
            if values.len() <= DENSE_MAX.max(dict.len()) {
                self.local.resize(values.len(), UNMAPPED);
            }
            self.sparse.clear();
            self.values = Some(values.clone());
        }
        let strings = dict.values().as_string::<i32>();
        self.rows.reserve(dict.len());
        let keys = dict.keys();
        let Dictionary::Strings(chunk) = &mut self.dict else { unreachable!("a string column's dictionary") };
        // The values may hold one string at several places, and batches over other values
        // arrays hold the same strings again: the dictionary holds each once (pyarrow reads
        // a dictionary with repeats as its distinct values, and the ids past them as out of
        // bounds). A null value's id is NULL.
        let mut map = |k: usize| match strings.is_valid(k) {
            true => chunk.id(strings.value(k).as_bytes()),
            false => NULL,
        };
        let nulls = keys.nulls().filter(|n| n.null_count() > 0);
        if nulls.is_some_and(|n| n.null_count() == keys.len()) {
            // Every row null (an enrichment column no row of the batch has a value of).
            self.rows.resize(self.rows.len() + keys.len(), NULL);
            return;
        }
        let valid = |r: usize| nulls.is_none_or(|n| n.is_valid(r));
        if !self.local.is_empty() {
            // Each key's id from the array: one load a row, a value's first row maps it.
            let local = &mut self.local;
            let mut id_of = |k: i32| {
                let slot = &mut local[k as usize];
                if *slot == UNMAPPED {
                    *slot = map(k as usize);
                }
                *slot
            };
            match nulls {
                None => self.rows.extend(keys.values().iter().map(|&k| id_of(k))),
                Some(n) => {
                    // 64 rows' validity a word, and a null row's key (any number) read as 0:
                    // no branch on a row's validity but the rare first use of a value.
                    let keys = keys.values();
                    let start = self.rows.len();
                    self.rows.resize(start + keys.len(), NULL);
                    let out = &mut self.rows[start..];
                    let words = n.inner().bit_chunks().iter_padded();
                    for ((keys, out), word) in keys.chunks(64).zip(out.chunks_mut(64)).zip(words) {
                        for (i, (&k, o)) in keys.iter().zip(out).enumerate() {
                            let valid = word >> i & 1 == 1;
                            let at = if valid { k as usize } else { 0 };
                            let mut id = local[at];
                            if valid && id == UNMAPPED {
                                id = map(at);
                                local[at] = id;
                            }
                            *o = if valid { id } else { NULL };
                        }
                    }
                }
            }
            return;
        }
        // The last row's key and id: a sorted batch's columns come in runs of one key.
        let mut last: Option<(i32, u32)> = None;
        for (r, &k) in keys.values().iter().enumerate() {
            if !valid(r) {
                self.rows.push(NULL);
                continue;
            }
            let id = match last {
                Some((lk, id)) if lk == k => id,
                _ => *self.sparse.entry(k as u32).or_insert_with(|| map(k as usize)),
            };
            last = Some((k, id));
            self.rows.push(id);
        }
    }

    /// An integer chunk's full pages, encoded at the dictionary's width so far (as arrow-rs
    /// encodes its pages) and compressed now, their rows dropped: the chunk then holds about
    /// what its file will, not 4 bytes a row, and the memory budget sees what arrow-rs's
    /// writer would hold.
    fn seal(&mut self) -> Result<()> {
        if self.handed_over {
            return Ok(());
        }
        let Dictionary::Ints(dict) = &self.dict else { return Ok(()) };
        let width = bit_width(dict.values.len());
        let n = page_rows(self, width);
        let level = zstd_level(&self.props, &self.descr);
        let mut done = 0;
        while self.rows.len() - done >= n {
            let rows = &self.rows[done..done + n];
            let (mut bounds, mut nulls) = (None::<(u32, u32)>, 0u64);
            for &id in rows {
                if id == NULL {
                    nulls += 1;
                    continue;
                }
                let v = dict.values[id as usize];
                bounds = Some(match bounds {
                    None => (id, id),
                    Some((lo, hi)) => (
                        if v < dict.values[lo as usize] { id } else { lo },
                        if v > dict.values[hi as usize] { id } else { hi },
                    ),
                });
            }
            let page = data_page(rows, &mut self.seen);
            let uncompressed = page.len();
            let buf = compress_page(level, page)?;
            self.sealed.push(Sealed { buf, uncompressed, rows: n, nulls, bounds });
            done += n;
        }
        if done > 0 {
            self.rows.drain(..done);
            self.sealed_rows += done;
        }
        Ok(())
    }

    /// The rows of the sealed pages back, before the rest (for a hand-over).
    fn unseal(&mut self) -> Result<()> {
        if self.sealed.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(self.sealed_rows + self.rows.len());
        let zstd = zstd_level(&self.props, &self.descr);
        for s in std::mem::take(&mut self.sealed) {
            let page = match zstd {
                Some(_) => {
                    zstd::bulk::decompress(&s.buf, s.uncompressed).map_err(|e| ParquetError::External(Box::new(e)))?
                }
                None => s.buf.to_vec(),
            };
            rows.extend(page_ids(&page, s.rows));
        }
        rows.extend_from_slice(&self.rows);
        self.rows = rows;
        self.sealed_rows = 0;
        self.seen = 0;
        Ok(())
    }

    /// Gives the rows so far to arrow-rs's writer, which takes the rest of the chunk.
    fn hand_over(&mut self) -> Result<()> {
        if self.handed_over {
            return Ok(());
        }
        self.unseal()?;
        self.handed_over = true;
        if self.rows.is_empty() {
            return Ok(());
        }
        let array = self.dict.to_array(&self.rows)?;
        self.rows = Vec::new();
        self.local = Vec::new();
        self.sparse = FxHashMap::default();
        self.values = None;
        self.dict = Dictionary::for_field(&self.field);
        write_arrow(&mut self.arrow, &self.field, &array)
    }

    fn memory_size(&self) -> usize {
        if self.handed_over {
            return self.arrow.memory_size();
        }
        (self.rows.capacity() + self.local.capacity()) * 4
            + self.dict.memory_size()
            + self.sealed.iter().map(|s| s.buf.len()).sum::<usize>()
    }

    /// About what the chunk will take in the file (before compression).
    fn estimated_bytes(&self) -> usize {
        if self.handed_over {
            return self.arrow.get_estimated_total_bytes();
        }
        self.dict.page_bytes()
            + self.rows.len() * (bit_width(self.dict.len()) as usize + 1) / 8
            + self.sealed.iter().map(|s| s.uncompressed).sum::<usize>()
    }

    fn close(mut self) -> Result<Chunk> {
        if !self.handed_over && self.dict.len() == 0 {
            // No value at all: arrow-rs writes such a chunk (no dictionary) cheaply.
            self.hand_over()?;
        }
        if self.handed_over {
            return self.arrow.close().map(Chunk::Arrow);
        }
        ChunkWriter::new(&self).write(&self)
    }
}

/// Ids needed for `n` distinct values.
fn bit_width(n: usize) -> u8 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()) as u8
}

#[cfg(test)]
thread_local! {
    /// Chunks this module wrote on this thread: how the tests tell its chunks from arrow-rs's.
    static OWN_CHUNKS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes a [`DictColumn`]'s pages into one buffer, with the chunk's metadata and indexes.
struct ChunkWriter {
    /// The column's zstd level, or none (uncompressed).
    zstd: Option<i32>,
    /// Rank of each dictionary id among the chunk's values in the order Parquet sorts them
    /// by: page minimum and maximum are the ids of lowest and highest rank.
    rank: Vec<u32>,
    /// The ids by rank.
    order: Vec<u32>,
}

impl ChunkWriter {
    fn new(c: &DictColumn) -> ChunkWriter {
        let order = c.dict.order();
        let mut rank = vec![0u32; order.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        ChunkWriter { zstd: zstd_level(&c.props, &c.descr), rank, order }
    }

    /// A page compressed, and its size before.
    fn compress(&self, page: Vec<u8>) -> Result<(Bytes, usize)> {
        let uncompressed = page.len();
        Ok((compress_page(self.zstd, page)?, uncompressed))
    }

    fn write(self, c: &DictColumn) -> Result<Chunk> {
        let mut sink = TrackedWrite::new(Vec::new());
        let mut pages = SerializedPageWriter::new(&mut sink);
        let (buf, size) = self.compress(c.dict.plain_page())?;
        let page =
            Page::DictionaryPage { buf, num_values: c.dict.len() as u32, encoding: Encoding::PLAIN, is_sorted: false };
        let dict_spec = pages.write_page(CompressedPage::new(page, size))?;
        let mut index = Indexes::new(c);
        for s in &c.sealed {
            let page = Page::DataPage {
                buf: s.buf.clone(),
                num_values: s.rows as u32,
                encoding: Encoding::RLE_DICTIONARY,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let spec = pages.write_page(CompressedPage::new(page, s.uncompressed))?;
            let bounds = s.bounds.map(|(lo, hi)| (self.rank[lo as usize], self.rank[hi as usize]));
            index.record(&self, c, bounds, s.nulls, 0, s.rows, &spec);
        }
        // A string chunk's pages at its whole dictionary's width (its pages are all written
        // at its close), which zstd packs better than the widths so far (measured: about 3%
        // smaller addresses); an integer chunk's at the widths so far, as arrow-rs writes
        // them and as its sealed pages were.
        let mut seen = match c.dict {
            Dictionary::Strings(_) => c.dict.len(),
            Dictionary::Ints(_) => c.seen,
        };
        for rows in c.rows.chunks(page_rows(c, bit_width(c.dict.len()))) {
            let (buf, size) = self.compress(data_page(rows, &mut seen))?;
            let page = Page::DataPage {
                buf,
                num_values: rows.len() as u32,
                encoding: Encoding::RLE_DICTIONARY,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let spec = pages.write_page(CompressedPage::new(page, size))?;
            index.page(&self, c, rows, &spec);
        }
        pages.close()?;
        let data = Bytes::from(sink.into_inner()?);
        let close = index.finish(&self, c, &dict_spec, data.len() as u64)?;
        #[cfg(test)]
        OWN_CHUNKS.with(|n| n.borrow_mut().push(c.descr.path().string()));
        Ok(Chunk::Own { data, close })
    }
}

/// Rows per data page: `--page-rows`, and at most a page size limit of ids.
fn page_rows(c: &DictColumn, width: u8) -> usize {
    let by_size = c.props.column_data_page_size_limit(c.descr.path()) * 8 / (usize::from(width) + 1);
    c.props.data_page_row_count_limit().min(by_size).max(1)
}

/// A v1 data page: RLE definition levels (4-byte length first), the ids' bit width, the ids.
/// The width is that of `seen` ids (raised to this page's highest): given the ids the
/// pages before it used, that is the dictionary's size when this page's rows were added
/// (ids count up in order of first use), the width arrow-rs gives a page it writes out.
fn data_page(rows: &[u32], seen: &mut usize) -> Vec<u8> {
    // The highest id plus one (NULL, the highest u32, wraps to 0), and whether a row is null.
    let (mut top, mut nulls) = (0u32, false);
    for &id in rows {
        nulls |= id == NULL;
        top = top.max(id.wrapping_add(1));
    }
    *seen = (*seen).max(top as usize);
    let width = bit_width(*seen);
    let mut page = Vec::with_capacity(16 + rows.len() * usize::from(width).div_ceil(8));
    page.extend_from_slice(&[0; 4]);
    let ids: std::borrow::Cow<'_, [u32]> = if nulls {
        let defined: Vec<u32> = rows.iter().map(|&id| u32::from(id != NULL)).collect();
        hybrid(&defined, 1, &mut page);
        rows.iter().copied().filter(|&id| id != NULL).collect()
    } else {
        if !rows.is_empty() {
            // Every row defined: one run of ones (what `hybrid` makes of them).
            varint((rows.len() as u64) << 1, &mut page);
            page.push(1);
        }
        rows.into()
    };
    let levels = (page.len() - 4) as u32;
    page[..4].copy_from_slice(&levels.to_le_bytes());
    page.push(width);
    hybrid(&ids, width, &mut page);
    page
}

/// The zstd level of the column's codec, or None (uncompressed).
fn zstd_level(props: &WriterProperties, descr: &ColumnDescPtr) -> Option<i32> {
    match props.compression(descr.path()) {
        Compression::ZSTD(level) => Some(level.compression_level()),
        _ => None,
    }
}

/// A page compressed at `level` (None: as it is), with this thread's zstd context.
fn compress_page(level: Option<i32>, page: Vec<u8>) -> Result<Bytes> {
    thread_local! {
        static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
            const { std::cell::RefCell::new(None) };
    }
    let Some(level) = level else { return Ok(Bytes::from(page)) };
    let external = |e: std::io::Error| ParquetError::External(Box::new(e));
    ZSTD.with(|z| {
        let mut z = z.borrow_mut();
        if z.as_ref().is_none_or(|(l, _)| *l != level) {
            *z = Some((level, zstd::bulk::Compressor::new(level).map_err(external)?));
        }
        let (_, c) = z.as_mut().expect("made above");
        c.compress(&page).map(Bytes::from).map_err(external)
    })
}

/// The rows (ids, or [`NULL`]) of a page [`data_page`] wrote for `rows` rows.
fn page_ids(page: &[u8], rows: usize) -> Vec<u32> {
    let levels = u32::from_le_bytes(page[..4].try_into().expect("4 bytes")) as usize;
    let defined = unhybrid(&page[4..4 + levels], 1, rows);
    let width = page[4 + levels];
    let n = defined.iter().filter(|&&d| d == 1).count();
    let mut ids = unhybrid(&page[5 + levels..], width, n).into_iter();
    defined.iter().map(|&d| if d == 1 { ids.next().expect("an id per defined row") } else { NULL }).collect()
}

/// The first `n` values of [`hybrid`]'s encoding at `width` bits.
fn unhybrid(mut data: &[u8], width: u8, n: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        let (mut header, mut shift, mut used) = (0u64, 0, 0);
        loop {
            let b = data[used];
            header |= u64::from(b & 0x7f) << shift;
            used += 1;
            shift += 7;
            if b < 0x80 {
                break;
            }
        }
        data = &data[used..];
        if header & 1 == 0 {
            let bytes = usize::from(width).div_ceil(8);
            let v = data[..bytes].iter().rev().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            out.extend(std::iter::repeat_n(v, (header >> 1) as usize));
            data = &data[bytes..];
        } else {
            let values = (header >> 1) as usize * 8;
            let (mut acc, mut bits, mut at) = (0u64, 0u32, 0usize);
            for _ in 0..values {
                while bits < u32::from(width) {
                    acc |= u64::from(data[at]) << bits;
                    at += 1;
                    bits += 8;
                }
                out.push((acc & ((1u64 << width) - 1)) as u32);
                acc >>= width;
                bits -= u32::from(width);
            }
            data = &data[at..];
        }
    }
    out.truncate(n);
    out
}

/// Most groups of 8 values in one bit-packed run (its header then fits in one byte, as
/// arrow-rs and parquet-mr write them).
const MAX_GROUPS: usize = 63;

/// Appends `values` (each below 2^`width`) in Parquet's RLE/bit-packing hybrid encoding:
/// each aligned group of 8 equal values joins a run of repeats, other groups are
/// bit-packed; the last group, if short, is a run (equal values) or padded.
fn hybrid(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let mut packed: Vec<&[u32]> = Vec::new();
    let mut groups = values.chunks(8).peekable();
    while let Some(g) = groups.next() {
        let same = g.iter().all(|&v| v == g[0]);
        if same && (g.len() == 8 || packed.is_empty()) {
            flush_packed(&mut packed, width, out);
            let mut n = g.len();
            while let Some(next) = groups.next_if(|n| n.len() == 8 && n.iter().all(|&v| v == g[0])) {
                n += next.len();
            }
            // A short last group of the same value joins the run too.
            if let Some(last) = groups.next_if(|n| n.len() < 8 && n.iter().all(|&v| v == g[0])) {
                n += last.len();
            }
            varint((n as u64) << 1, out);
            out.extend_from_slice(&g[0].to_le_bytes()[..usize::from(width).div_ceil(8)]);
        } else {
            packed.push(g);
            if packed.len() == MAX_GROUPS {
                flush_packed(&mut packed, width, out);
            }
        }
    }
    flush_packed(&mut packed, width, out);
}

/// Writes groups as one bit-packed run (the last may be short: it is padded with zeros).
fn flush_packed(groups: &mut Vec<&[u32]>, width: u8, out: &mut Vec<u8>) {
    if groups.is_empty() {
        return;
    }
    varint(((groups.len() as u64) << 1) | 1, out);
    macro_rules! by_width {
        ($($w:literal)*) => {
            match width {
                $($w => pack::<$w>(groups, out),)*
                _ => unreachable!("ids are at most 32 bits wide"),
            }
        };
    }
    by_width!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    groups.clear();
}

/// Bit-packs groups of 8 values `W` bits wide (a short group padded with zeros): each
/// group's `W` whole bytes, packed into words (the width a constant, so that the places
/// of the 8 values fold), then copied.
#[inline(always)]
fn pack<const W: usize>(groups: &[&[u32]], out: &mut Vec<u8>) {
    for g in groups {
        let mut group = [0u32; 8];
        group[..g.len()].copy_from_slice(g);
        let mut words = [0u64; 5];
        for (i, &v) in group.iter().enumerate() {
            let (at, shift) = ((i * W) / 64, (i * W) % 64);
            words[at] |= u64::from(v) << shift;
            if shift + W > 64 {
                words[at + 1] |= u64::from(v) >> (64 - shift);
            }
        }
        let mut bytes = [0u8; 40];
        for (b, word) in bytes.chunks_exact_mut(8).zip(words) {
            b.copy_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&bytes[..W]);
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The chunk's statistics, column index and offset index, page by page.
struct Indexes {
    column: ColumnIndexBuilder,
    offsets: OffsetIndexBuilder,
    /// Lowest and highest rank over the chunk, nulls.
    range: Option<(u32, u32)>,
    nulls: u64,
    data_pages: i32,
    first_data_page: Option<u64>,
    uncompressed: u64,
    /// Each page's lowest and highest rank (None for a page of nulls only), for the boundary order.
    bounds: Vec<Option<(u32, u32)>>,
    /// The bytes of the chunk's values, unencoded (one per row; size statistics).
    value_bytes: i64,
}

impl Indexes {
    fn new(c: &DictColumn) -> Indexes {
        Indexes {
            column: ColumnIndexBuilder::new(c.descr.physical_type()),
            offsets: OffsetIndexBuilder::new(),
            range: None,
            nulls: 0,
            data_pages: 0,
            first_data_page: None,
            uncompressed: 0,
            bounds: Vec::new(),
            value_bytes: 0,
        }
    }

    fn page(&mut self, w: &ChunkWriter, c: &DictColumn, rows: &[u32], spec: &PageWriteSpec) {
        let mut lo = u32::MAX;
        let mut hi = 0u32;
        let mut nulls = 0u64;
        let mut bytes = 0i64;
        let strings = match &c.dict {
            Dictionary::Strings(d) => Some(d),
            Dictionary::Ints(_) => None,
        };
        // The row before's id and length: a sorted column's runs are counted, not looked up.
        let (mut last, mut last_len) = (NULL, 0i64);
        for &id in rows {
            if id == NULL {
                nulls += 1;
            } else if id == last {
                bytes += last_len;
            } else {
                let r = w.rank[id as usize];
                lo = lo.min(r);
                hi = hi.max(r);
                last_len = strings.map_or(0, |d| d.value_len(id) as i64);
                bytes += last_len;
                last = id;
            }
        }
        let bounds = (nulls < rows.len() as u64).then_some((lo, hi));
        self.record(w, c, bounds, nulls, bytes, rows.len(), spec);
    }

    /// A page of `rows` rows, `nulls` of them null, whose values' lowest and highest ranks
    /// are `bounds` and whose values are `bytes` long (strings).
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        w: &ChunkWriter,
        c: &DictColumn,
        bounds: Option<(u32, u32)>,
        nulls: u64,
        bytes: i64,
        rows: usize,
        spec: &PageWriteSpec,
    ) {
        let strings = matches!(c.dict, Dictionary::Strings(_));
        let by_rank = |r: u32| w.order[r as usize];
        match bounds {
            Some((lo, hi)) => {
                let limit = c.props.column_index_truncate_length();
                let ((min, _), (max, _)) = c.dict.bounds(by_rank(lo), by_rank(hi), limit);
                self.column.append(false, min, max, nulls as i64);
                self.range = Some(self.range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            }
            None => self.column.append(true, Vec::new(), Vec::new(), nulls as i64),
        }
        self.bounds.push(bounds);
        self.nulls += nulls;
        // Size statistics, as arrow-rs writes them: how many rows are null and not (the
        // definition levels), and the bytes of the values.
        let levels = LevelHistogram::from(vec![nulls as i64, rows as i64 - nulls as i64]);
        self.column.append_histograms(&None, &Some(levels));
        self.value_bytes += bytes;
        self.offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        self.offsets.append_row_count(rows as i64);
        self.offsets.append_unencoded_byte_array_data_bytes(strings.then_some(bytes));
        self.first_data_page.get_or_insert(spec.offset);
        self.data_pages += 1;
        self.uncompressed += spec.uncompressed_size as u64;
    }

    /// Ascending or descending when every page's bounds are (ignoring pages of nulls).
    fn boundary_order(&self) -> BoundaryOrder {
        let b: Vec<(u32, u32)> = self.bounds.iter().flatten().copied().collect();
        if b.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1) {
            BoundaryOrder::ASCENDING
        } else if b.windows(2).all(|w| w[0].0 >= w[1].0 && w[0].1 >= w[1].1) {
            BoundaryOrder::DESCENDING
        } else {
            BoundaryOrder::UNORDERED
        }
    }

    fn finish(
        mut self,
        w: &ChunkWriter,
        c: &DictColumn,
        dict: &PageWriteSpec,
        total: u64,
    ) -> Result<ColumnCloseResult> {
        let order = self.boundary_order();
        self.column.set_boundary_order(order);
        let (lo, hi) = self.range.expect("a chunk with values has a page with values");
        let by_rank = |r: u32| w.order[r as usize];
        let stats = c.dict.statistics(by_rank(lo), by_rank(hi), self.nulls, c.props.statistics_truncate_length());
        let rows = (c.sealed_rows + c.rows.len()) as u64;
        let encoding_stats = vec![
            PageEncodingStats { page_type: PageType::DICTIONARY_PAGE, encoding: Encoding::PLAIN, count: 1 },
            PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: Encoding::RLE_DICTIONARY,
                count: self.data_pages,
            },
        ];
        let metadata = ColumnChunkMetaData::builder(c.descr.clone())
            .set_compression(c.props.compression(c.descr.path()))
            .set_encodings(vec![Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY])
            .set_page_encoding_stats(encoding_stats)
            .set_total_compressed_size(total as i64)
            .set_total_uncompressed_size((dict.uncompressed_size as u64 + self.uncompressed) as i64)
            .set_num_values(rows as i64)
            .set_dictionary_page_offset(Some(dict.offset as i64))
            .set_data_page_offset(
                self.first_data_page.ok_or_else(|| ParquetError::General("no data page".into()))? as i64
            )
            .set_statistics(stats)
            .set_unencoded_byte_array_data_bytes(matches!(c.dict, Dictionary::Strings(_)).then_some(self.value_bytes))
            .set_definition_level_histogram(Some(LevelHistogram::from(vec![
                self.nulls as i64,
                rows as i64 - self.nulls as i64,
            ])))
            .build()?;
        Ok(ColumnCloseResult {
            bytes_written: total,
            rows_written: rows,
            metadata,
            bloom_filter: bloom_filter(c)?,
            column_index: Some(self.column.build()?),
            offset_index: Some(self.offsets.build()),
        })
    }
}

/// The column's bloom filter, if it has one: the chunk's distinct values, as arrow-rs
/// inserts every row's (a value inserted again changes nothing), folded down as it does.
fn bloom_filter(c: &DictColumn) -> Result<Option<Sbbf>> {
    let Some(p) = c.props.bloom_filter_properties(c.descr.path()) else { return Ok(None) };
    let mut filter = Sbbf::new_with_ndv_fpp(p.ndv(), p.fpp())?;
    c.dict.insert_into(&mut filter);
    filter.fold_to_target_fpp(p.fpp());
    Ok(Some(filter))
}

/// A lower bound of `value` at most `limit` bytes long, cut at a character, and whether
/// it was cut (arrow-rs's `truncate_min_value`, for UTF-8 text).
fn truncate_min(value: &[u8], limit: Option<usize>) -> (Vec<u8>, bool) {
    let text = std::str::from_utf8(value).ok();
    match (limit, text) {
        (Some(l), Some(t)) if t.len() > l => match (1..=l).rfind(|&x| t.is_char_boundary(x)) {
            Some(at) => (value[..at].to_vec(), true),
            None => (value.to_vec(), false),
        },
        _ => (value.to_vec(), false),
    }
}

/// An upper bound of `value` at most `limit` bytes long: cut at a character, whose last
/// character that can be is then raised by one (to one of the same width); and whether it
/// was cut. When no character can be raised, `value` itself (arrow-rs's
/// `truncate_max_value`, for UTF-8 text).
fn truncate_max(value: &[u8], limit: Option<usize>) -> (Vec<u8>, bool) {
    let raised = |t: &str| {
        t.char_indices().rev().find_map(|(at, ch)| {
            let next = char::from_u32(ch as u32 + 1).filter(|n| n.len_utf8() == ch.len_utf8())?;
            let mut out = t.as_bytes()[..at + ch.len_utf8()].to_vec();
            next.encode_utf8(&mut out[at..]);
            Some(out)
        })
    };
    let text = std::str::from_utf8(value).ok();
    let cut = match (limit, text) {
        (Some(l), Some(t)) if t.len() > l => {
            (l.saturating_sub(3)..=l).rfind(|&x| t.is_char_boundary(x)).and_then(|at| raised(&t[..at]))
        }
        _ => None,
    };
    match cut {
        Some(c) => (c, true),
        None => (value.to_vec(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{ParquetOptions, PartitionedSink};
    use crate::storage::{LocalStorage, Location};
    use arrow_array::{Int64Array, RecordBatch};
    use arrow_buffer::NullBuffer;
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::file::metadata::ParquetMetaData;
    use parquet::file::page_index::column_index::ColumnIndexMetaData;

    fn schema() -> Arc<Schema> {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        Arc::new(Schema::new(vec![Field::new("owner", dict, true), Field::new("n", DataType::Int64, true)]))
    }

    /// Batches of `rows` rows whose `owner` keys come from `key` (None: null) over `values`.
    fn batches(values: &ArrayRef, batches: usize, rows: usize, key: impl Fn(usize) -> Option<i32>) -> Vec<RecordBatch> {
        batches_from(0, values, batches, rows, key)
    }

    /// As [`batches`], their `n` (the row's place) counted from `first`.
    fn batches_from(
        first: usize,
        values: &ArrayRef,
        batches: usize,
        rows: usize,
        key: impl Fn(usize) -> Option<i32>,
    ) -> Vec<RecordBatch> {
        (0..batches)
            .map(|b| {
                let keys: Int32Array = (0..rows).map(|r| key(b * rows + r)).collect();
                let owner = DictionaryArray::<Int32Type>::try_new(keys, values.clone()).unwrap();
                let n = Int64Array::from_iter_values((0..rows).map(|r| (first + b * rows + r) as i64));
                RecordBatch::try_new(schema(), vec![Arc::new(owner), Arc::new(n)]).unwrap()
            })
            .collect()
    }

    /// A bloom filter on `owner`, row groups of 8,000 rows, pages of 1,000.
    fn bloom_and_small_groups() -> ParquetOptions {
        ParquetOptions {
            bloom_filter: vec!["owner".into()],
            row_group_size: 8_000,
            page_rows: 1_000,
            ..ParquetOptions::default()
        }
    }

    /// The file arrow-rs's `ArrowWriter` writes, and the one the sink writes (through this module).
    fn both(opts: ParquetOptions, input: &[RecordBatch]) -> [(Vec<Option<String>>, ParquetMetaData); 2] {
        let dir = tempfile::tempdir().unwrap();
        let [theirs, ours] = both_files(dir.path(), opts, input);
        [read(&theirs), read(&ours)]
    }

    /// The files of [`both`], in `dir`: arrow-rs's and the sink's.
    fn both_files(dir: &std::path::Path, opts: ParquetOptions, input: &[RecordBatch]) -> [std::path::PathBuf; 2] {
        count_afresh();
        let schema = input[0].schema();
        let props = opts.writer_properties(&schema, "t");
        let theirs = dir.join("arrow.parquet");
        let mut w = ArrowWriter::try_new(std::fs::File::create(&theirs).unwrap(), schema.clone(), Some(props)).unwrap();
        for b in input {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        let sink =
            PartitionedSink::new(Arc::new(LocalStorage), Location::Local(dir.join("lake")), schema, opts, "t").unwrap();
        for b in input {
            sink.write("p=1", b).unwrap();
        }
        let ours = sink.finish().unwrap()[0].location.as_local().unwrap().to_path_buf();
        [theirs, ours]
    }

    /// Every `owner` value in row order (by `n`), and the metadata with the page index.
    fn read(path: &std::path::Path) -> (Vec<Option<String>>, ParquetMetaData) {
        let opts = ArrowReaderOptions::new().with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required);
        let b =
            ParquetRecordBatchReaderBuilder::try_new_with_options(std::fs::File::open(path).unwrap(), opts).unwrap();
        let meta = b.metadata().as_ref().clone();
        let mut rows: Vec<(i64, Option<String>)> = Vec::new();
        for batch in b.build().unwrap() {
            let batch = batch.unwrap();
            let owner = arrow_cast::cast(batch.column(0), &DataType::Utf8).unwrap();
            let owner = owner.as_string::<i32>();
            let n = batch.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
            rows.extend(
                (0..batch.num_rows()).map(|r| (n.value(r), owner.is_valid(r).then(|| owner.value(r).to_string()))),
            );
        }
        rows.sort();
        (rows.into_iter().map(|(_, v)| v).collect(), meta)
    }

    /// A chunk's minimum, maximum, nulls, whether the bounds are exact (not truncated), and
    /// its size statistics: the values' unencoded bytes, and the rows per definition level.
    type ChunkStats = (Option<Vec<u8>>, Option<Vec<u8>>, Option<u64>, bool, bool, Option<i64>, Option<Vec<i64>>);

    /// What a reader relies on in each chunk of `owner`: statistics and the page index
    /// (each page's bounds hold its values, and the chunk's bounds are the pages' extremes).
    fn check_index(meta: &ParquetMetaData, values: &[Option<String>]) -> Vec<ChunkStats> {
        let mut at = 0usize;
        let mut chunks = Vec::new();
        for (g, rg) in meta.row_groups().iter().enumerate() {
            let col = rg.column(0);
            let stats = col.statistics().expect("chunk statistics");
            chunks.push((
                stats.min_bytes_opt().map(<[u8]>::to_vec),
                stats.max_bytes_opt().map(<[u8]>::to_vec),
                stats.null_count_opt(),
                stats.min_is_exact(),
                stats.max_is_exact(),
                col.unencoded_byte_array_data_bytes(),
                col.definition_level_histogram().map(|h| h.values().to_vec()),
            ));
            let index = &meta.column_index().expect("a column index")[g][0];
            let offsets = &meta.offset_index().expect("an offset index")[g][0];
            let ColumnIndexMetaData::BYTE_ARRAY(index) = index else { panic!("a byte-array index: {index:?}") };
            let pages = &offsets.page_locations;
            let (mins, maxs) = (index.min_values_iter(), index.max_values_iter());
            for (p, (min, max)) in mins.zip(maxs).enumerate() {
                let end = pages.get(p + 1).map_or(rg.num_rows() as usize, |n| n.first_row_index as usize);
                let start = pages[p].first_row_index as usize;
                // Size statistics per page: rows null and not, the values' bytes.
                let page = &values[at + start..at + end];
                let nulls = page.iter().filter(|v| v.is_none()).count() as i64;
                let levels = index.definition_level_histogram(p).expect("page histograms");
                assert_eq!(levels, [nulls, page.len() as i64 - nulls], "page {p}'s definition levels");
                let bytes: usize = page.iter().flatten().map(String::len).sum();
                let unencoded = offsets.unencoded_byte_array_data_bytes().expect("page sizes");
                assert_eq!(unencoded[p], bytes as i64, "page {p}'s bytes");
                for v in page.iter().flatten() {
                    let (min, max) = (min.expect("a page with values has bounds"), max.unwrap());
                    assert!(min <= v.as_bytes() && v.as_bytes() <= max, "{v} within page {p}'s bounds");
                    let limit =
                        ParquetOptions::default().writer_properties(&schema(), "t").column_index_truncate_length();
                    // (A maximum none of whose last characters can be raised stays whole.)
                    let whole = |b: &[u8]| values.iter().flatten().any(|v| v.as_bytes() == b);
                    assert!(limit.is_none_or(|l| min.len() <= l && (max.len() <= l || whole(max))), "bounds cut");
                }
            }
            at += rg.num_rows() as usize;
        }
        chunks
    }

    /// Whether every chunk of `owner` in `meta` is one this module wrote: as many as it
    /// wrote on this thread since the last call (the sink encodes on the thread writing).
    fn ours(meta: &ParquetMetaData) -> bool {
        own_chunks("owner") == meta.num_row_groups()
    }

    /// How many chunks of `column` this module wrote on this thread since the last call.
    fn own_chunks(column: &str) -> usize {
        OWN_CHUNKS.with(|n| {
            let mut n = n.borrow_mut();
            let mine = n.iter().filter(|c| *c == column).count();
            n.retain(|c| c != column);
            mine
        })
    }

    /// Starts counting the chunks this module writes afresh.
    fn count_afresh() {
        OWN_CHUNKS.with(|n| n.borrow_mut().clear());
    }

    fn values(n: usize, f: impl Fn(usize) -> Option<String>) -> ArrayRef {
        Arc::new(StringArray::from_iter((0..n).map(f)))
    }

    #[test]
    fn a_dictionary_column_reads_back_as_arrow_rs_writes_it() {
        // Nulls, an empty string, non-ASCII text, values of an unsorted dictionary.
        let v = values(40, |i| match i {
            0 => None,
            1 => Some(String::new()),
            2 => Some("Zürich – ☃".into()),
            i => Some(format!("i-{:05}", (i * 7919) % 1000)),
        });
        let input = batches(&v, 7, 3_001, |r| (r % 5 != 0).then_some(((r / 3) % 40) as i32));
        let opts = ParquetOptions { row_group_size: 10_000, page_rows: 3_072, ..ParquetOptions::default() };
        let [(a, am), (b, bm)] = both(opts, &input);
        assert_eq!(a, b, "every value read back alike");
        assert_eq!(a.len(), 7 * 3_001);
        assert!(ours(&bm), "the sink's chunks are this module's");
        assert_eq!(am.num_row_groups(), bm.num_row_groups());
        assert_eq!(check_index(&am, &a), check_index(&bm, &b), "chunk statistics alike");
        // Our path wrote it: one dictionary page, RLE_DICTIONARY data pages of --page-rows rows.
        let col = bm.row_group(0).column(0);
        assert!(col.dictionary_page_offset().is_some());
        let pages = &bm.offset_index().unwrap()[0][0].page_locations;
        assert_eq!(pages.len(), 10_000usize.div_ceil(3_072), "{pages:?}");
        // Pages as large as arrow-rs's (which ends pages at its batches of 1,024 rows, so
        // their count may differ): bytes per page within 10%.
        let per_page = |m: &ParquetMetaData| {
            let c = m.row_group(0).column(0);
            let pages = m.offset_index().unwrap()[0][0].page_locations.len() as i64;
            (c.compressed_size() - (c.data_page_offset() - c.dictionary_page_offset().unwrap())) / pages
        };
        assert!(
            per_page(&bm) <= per_page(&am) * 11 / 10,
            "{} bytes per page, arrow-rs {}",
            per_page(&bm),
            per_page(&am)
        );
    }

    /// The values of each dictionary page of `owner`, from the file's pages.
    fn dictionary_pages(path: &std::path::Path) -> Vec<u32> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
        (0..r.num_row_groups())
            .filter_map(|g| {
                let mut pages = r.get_row_group(g).unwrap().get_column_page_reader(0).unwrap();
                match pages.get_next_page().unwrap() {
                    Some(Page::DictionaryPage { num_values, .. }) => Some(num_values),
                    _ => None,
                }
            })
            .collect()
    }

    #[test]
    fn a_string_at_several_places_of_the_values_is_one_dictionary_entry() {
        // As the enrichment's values are: every answer's value, so one account many times.
        let v = values(12, |i| Some(format!("acct-{}", i % 3)));
        let input = batches(&v, 2, 4_000, |r| (r % 9 != 0).then_some((r % 12) as i32));
        let dir = tempfile::tempdir().unwrap();
        let sink = PartitionedSink::new(
            Arc::new(LocalStorage),
            Location::Local(dir.path().into()),
            schema(),
            ParquetOptions::default(),
            "t",
        )
        .unwrap();
        for b in &input {
            sink.write("p=1", b).unwrap();
        }
        let path = sink.finish().unwrap()[0].location.as_local().unwrap().to_path_buf();
        assert_eq!(dictionary_pages(&path), [3]);
        let (got, meta) = read(&path);
        assert!(ours(&meta));
        let want: Vec<Option<String>> =
            (0..8_000).map(|r| (r % 9 != 0).then(|| format!("acct-{}", r % 12 % 3))).collect();
        assert_eq!(got, want);
    }

    /// Null rows whose key slots hold any number (Arrow leaves them undefined), over a
    /// values array mapped through the dense array and over one longer than [`DENSE_MAX`]
    /// (mapped through the hash map), null values among them: read back as arrow-rs
    /// writes them.
    #[test]
    fn null_slots_holding_any_key_over_short_and_long_values_read_back_as_arrow_rs_writes_them() {
        for n in [50, DENSE_MAX + 1_000] {
            let v = values(n, |i| (i % 7 != 3).then(|| format!("v-{}", i % 1_000)));
            let input: Vec<RecordBatch> = (0..3)
                .map(|b| {
                    let rows = 4_000;
                    let raw: Vec<i32> =
                        (0..rows).map(|r| if r % 5 == 0 { -7 } else { ((b * rows + r) * 31 % n) as i32 }).collect();
                    let nulls = NullBuffer::from((0..rows).map(|r| r % 5 != 0).collect::<Vec<bool>>());
                    let keys = Int32Array::new(raw.into(), Some(nulls));
                    let owner = DictionaryArray::<Int32Type>::try_new(keys, v.clone()).unwrap();
                    let n = Int64Array::from_iter_values((0..rows).map(|r| (b * rows + r) as i64));
                    RecordBatch::try_new(schema(), vec![Arc::new(owner), Arc::new(n)]).unwrap()
                })
                .collect();
            let [(a, am), (b, bm)] = both(ParquetOptions::default(), &input);
            assert!(ours(&bm), "the sink's chunks are this module's ({n} values)");
            assert_eq!(a.len(), 12_000);
            assert!(a.iter().any(Option::is_none) && a.iter().any(Option::is_some));
            assert_eq!(a, b, "{n} values");
            assert_eq!(check_index(&am, &a), check_index(&bm, &b), "chunk statistics alike ({n} values)");
        }
    }

    #[test]
    fn one_row_all_null_and_one_value_chunks() {
        let v = values(3, |i| Some(format!("v{i}")));
        for (rows, key) in [
            (1usize, (|_| Some(2)) as fn(usize) -> Option<i32>),
            (5_000, |_| None),
            (5_000, |_| Some(1)),
            (5_000, |r| (r % 2 == 0).then_some(0)),
        ] {
            let input = batches(&v, 1, rows, key);
            let [(a, am), (b, bm)] = both(ParquetOptions::default(), &input);
            assert_eq!(a, b);
            // An all-null chunk is arrow-rs's; the others are ours.
            assert_eq!(ours(&bm), a.iter().any(Option::is_some), "{rows} rows");
            assert_eq!(check_index(&am, &a), check_index(&bm, &b), "{rows} rows");
        }
    }

    /// Batches with no value (an enrichment column no row of the batch has a value of)
    /// before, between and after batches with values: the rows in their places.
    #[test]
    fn batches_of_no_value_between_others_read_back_as_arrow_rs_writes_them() {
        let v = values(3, |i| Some(format!("v{i}")));
        let input = batches(&v, 5, 3_000, |r| ((r / 3_000) % 2 == 1).then_some((r % 3) as i32));
        assert!(input.iter().step_by(2).all(|b| b.column(0).null_count() == 3_000));
        let [(a, am), (b, bm)] = both(ParquetOptions::default(), &input);
        assert_eq!(a, b);
        assert!(ours(&bm));
        assert_eq!(check_index(&am, &a), check_index(&bm, &b));
    }

    #[test]
    fn what_this_path_does_not_do_goes_to_arrow_rs_with_the_rows_so_far() {
        // A dictionary past its size limit: the chunk is arrow-rs's, every value the same.
        let big = values(60_000, |i| Some(format!("a long enough owner name number {i:08}")));
        let input = batches(&big, 3, 20_000, |r| Some(r as i32));
        let [(a, am), (b, bm)] = both(ParquetOptions::default(), &input);
        assert_eq!(a, b);
        assert_eq!(check_index(&am, &a), check_index(&bm, &b));
        assert!(!ours(&bm), "handed to arrow-rs");
    }

    /// Each row group's bloom filter of `owner`, as its bytes.
    fn bloom_filters(path: &std::path::Path) -> Vec<Vec<u8>> {
        use parquet::file::properties::ReaderProperties;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::file::serialized_reader::ReadOptionsBuilder;
        let props = ReaderProperties::builder().set_read_bloom_filter(true).build();
        let opts = ReadOptionsBuilder::new().with_reader_properties(props).build();
        let r = SerializedFileReader::new_with_options(std::fs::File::open(path).unwrap(), opts).unwrap();
        (0..r.num_row_groups())
            .map(|g| {
                let mut bytes = Vec::new();
                let rg = r.get_row_group(g).unwrap();
                rg.get_column_bloom_filter(0).expect("a bloom filter").write_bitset(&mut bytes).unwrap();
                bytes
            })
            .collect()
    }

    #[test]
    fn batches_over_their_own_values_and_bloom_filters_are_written_as_arrow_rs_writes_them() {
        // As a parser that builds each batch's dictionary writes them: every batch its own
        // values array, the same strings in several of them (at other keys), repeats within
        // one, nulls among the values; a bloom filter on the column. The bloom filter holds
        // the same bits as arrow-rs's, which inserts every row's value.
        let input: Vec<RecordBatch> = (0..9)
            .flat_map(|b| {
                let v = values(50 + b * 13, |i| match i {
                    3 => None,
                    7 => Some("repeated".into()),
                    i => Some(format!("10.{}.{}.{}", b % 3, (i * 31 + b) % 256, i % 7)),
                });
                batches_from(b * 2_500, &v, 1, 2_500, move |r| {
                    (r % 11 != 0).then_some(((r * 17 + b) % (50 + b * 13)) as i32)
                })
            })
            .collect();
        let opts = bloom_and_small_groups();
        let dir = tempfile::tempdir().unwrap();
        let [theirs, ours_file] = both_files(dir.path(), opts, &input);
        let ((a, am), (b, bm)) = (read(&theirs), read(&ours_file));
        assert_eq!(a, b, "every value read back alike");
        assert!(ours(&bm), "written by this module");
        assert_eq!(check_index(&am, &a), check_index(&bm, &b), "statistics alike");
        for (g, rg) in bm.row_groups().iter().enumerate() {
            let theirs = am.row_group(g).column(0).dictionary_page_offset().map(|_| ());
            assert_eq!(rg.column(0).dictionary_page_offset().map(|_| ()), theirs);
        }
        let (x, y) = (bloom_filters(&theirs), bloom_filters(&ours_file));
        assert_eq!(x.len(), 3);
        assert!(x == y, "bloom filters differ");
    }

    #[test]
    fn dictionary_batches_of_a_string_column_are_written_as_strings() {
        // The parser's batches: dictionaries, for a table whose column is a string; the
        // file keeps the string type (its Arrow schema too) and reads back as arrow-rs
        // writes the same strings. Then with a plain batch after them in the same chunk
        // (as a compaction's would be): its values join the chunk's one dictionary.
        let plain = Arc::new(Schema::new(vec![
            Field::new("owner", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let input: Vec<RecordBatch> = (0..4)
            .flat_map(|b| {
                let v = values(30, |i| Some(format!("eni-{:017x}", (i * 7 + b) % 40)));
                batches_from(b * 3_000, &v, 1, 3_000, move |r| (r % 13 != 0).then_some(((r + b) % 30) as i32))
            })
            .collect();
        for last_plain in [false, true] {
            count_afresh();
            let dir = tempfile::tempdir().unwrap();
            let opts = ParquetOptions::default();
            let theirs = dir.path().join("arrow.parquet");
            let props = opts.writer_properties(&plain, "t");
            let mut w =
                ArrowWriter::try_new(std::fs::File::create(&theirs).unwrap(), plain.clone(), Some(props)).unwrap();
            let lake = Location::Local(dir.path().join("lake"));
            let sink = PartitionedSink::new(Arc::new(LocalStorage), lake, plain.clone(), opts, "t").unwrap();
            for (i, b) in input.iter().enumerate() {
                let owner = arrow_cast::cast(b.column(0), &DataType::Utf8).unwrap();
                let as_strings = RecordBatch::try_new(plain.clone(), vec![owner, b.column(1).clone()]).unwrap();
                w.write(&as_strings).unwrap();
                sink.write("p=1", if last_plain && i == input.len() - 1 { &as_strings } else { b }).unwrap();
            }
            w.close().unwrap();
            let ours_file = sink.finish().unwrap()[0].location.as_local().unwrap().to_path_buf();
            let ((a, am), (b, bm)) = (read(&theirs), read(&ours_file));
            assert_eq!(a, b);
            assert!(ours(&bm), "ours, a plain batch among the dictionaries too");
            assert_eq!(check_index(&am, &a), check_index(&bm, &b));
            assert_eq!(dictionary_pages(&theirs), dictionary_pages(&ours_file), "one dictionary, as arrow-rs's");
            let file = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&ours_file).unwrap()).unwrap();
            assert_eq!(file.schema().field(0).data_type(), &DataType::Utf8, "the file's Arrow type is the table's");
        }
    }

    /// Batches of plain strings, as the parser builds the addresses: the same values,
    /// statistics, page index, dictionary and bloom filter as arrow-rs writes, with the
    /// rows in runs (a sorted batch) or in no order; IPv4 and IPv6, nulls, empty strings,
    /// non-ASCII text; and a chunk whose dictionary outgrows its page, handed to arrow-rs.
    #[test]
    fn plain_string_batches_are_written_as_arrow_rs_writes_them() {
        let plain = Arc::new(Schema::new(vec![
            Field::new("owner", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let address = |i: usize| -> Option<String> {
            match i % 23 {
                0 => None,
                1 => Some(String::new()),
                2 => Some("Zürich – ☃".into()),
                3..=9 => Some(format!("2600:1f18:4a2:7e00::{:x}", i % 97)),
                _ => Some(format!("10.{}.{}.{}", i % 3, i % 251, i % 13)),
            }
        };
        let batch = |first: usize, rows: usize, sorted: bool| {
            let mut v: Vec<Option<String>> = (first..first + rows).map(|i| address((i * 7919) % 5003)).collect();
            if sorted {
                v.sort_by(|a, b| (a.is_none(), a).cmp(&(b.is_none(), b)));
            }
            let n = Int64Array::from_iter_values((first..first + rows).map(|i| i as i64));
            RecordBatch::try_new(plain.clone(), vec![Arc::new(StringArray::from(v)), Arc::new(n)]).unwrap()
        };
        let input: Vec<RecordBatch> = (0..8).map(|b| batch(b * 2_500, 2_500, b % 2 == 0)).collect();
        let opts = bloom_and_small_groups();
        let dir = tempfile::tempdir().unwrap();
        let [theirs, ours_file] = both_files(dir.path(), opts, &input);
        let ((a, am), (b, bm)) = (read(&theirs), read(&ours_file));
        assert_eq!(a, b, "every value read back alike");
        assert_eq!(a.len(), 20_000);
        assert!(ours(&bm), "written by this module");
        assert_eq!(check_index(&am, &a), check_index(&bm, &b), "statistics alike");
        assert_eq!(dictionary_pages(&theirs), dictionary_pages(&ours_file), "the same dictionaries");
        assert!(bloom_filters(&theirs) == bloom_filters(&ours_file), "bloom filters differ");
        // Distinct values past the dictionary page's limit: arrow-rs's, with every value.
        let big: Vec<RecordBatch> = (0..3)
            .map(|b| {
                let v: StringArray = (0..20_000).map(|i| Some(format!("a long enough value {b} {i:08}"))).collect();
                let n = Int64Array::from_iter_values((0..20_000).map(|i| (b * 20_000 + i) as i64));
                RecordBatch::try_new(plain.clone(), vec![Arc::new(v), Arc::new(n)]).unwrap()
            })
            .collect();
        let [(a, am), (b, bm)] = both(ParquetOptions::default(), &big);
        assert_eq!(a, b);
        assert_eq!(check_index(&am, &a), check_index(&bm, &b));
        assert!(!ours(&bm), "handed to arrow-rs");
    }

    #[test]
    fn values_past_the_statistics_length_are_truncated_in_them_as_arrow_rs_does() {
        // Interface descriptions run past 64 bytes: the bounds are cut (at a character) and
        // the maximum raised, as arrow-rs does; the values themselves are whole. Among them
        // a maximum whose cut ends in characters that cannot be raised to one of their width.
        let long = |i: usize| match i {
            0 => "Interface for NAT Gateway nat-0123456789abcdef0 in subnet subnet-0a1b2c3d (prod)".to_string(),
            1 => format!("{}{}", "\u{10FFFF}".repeat(15), "\u{FFFF}".repeat(10)),
            2 => format!("{}é{}", "z".repeat(63), "tail"),
            3 => "short".into(),
            _ => format!("{}{}", "Zürich – ☃ ".repeat(8), i),
        };
        for n in [4usize, 5, 9] {
            let v = values(n, |i| Some(long(i)));
            let input = batches(&v, 3, 1_000, |r| (r % 7 != 0).then_some((r / 300 % n) as i32));
            let [(a, am), (b, bm)] = both(ParquetOptions::default(), &input);
            assert_eq!(a, b, "{n} values");
            assert!(ours(&bm), "written by this module");
            assert_eq!(check_index(&am, &a), check_index(&bm, &b), "{n} values: statistics alike");
        }
    }

    #[test]
    fn truncated_bounds_hold_every_value_they_stand_for() {
        for v in ["abc", "a\u{10FFFF}\u{10FFFF}", "\u{10FFFF}\u{10FFFF}", "é\u{7F}\u{7F}x", "ÿÿÿÿ", ""] {
            for limit in [None, Some(0), Some(1), Some(2), Some(3), Some(4), Some(64)] {
                let (min, min_cut) = truncate_min(v.as_bytes(), limit);
                let (max, max_cut) = truncate_max(v.as_bytes(), limit);
                assert!(min.as_slice() <= v.as_bytes() && max.as_slice() >= v.as_bytes(), "{v:?} {limit:?}");
                assert!(std::str::from_utf8(&min).is_ok() && std::str::from_utf8(&max).is_ok());
                assert_eq!(min_cut, min != v.as_bytes());
                assert_eq!(max_cut, max != v.as_bytes());
            }
        }
    }

    /// Bit-packing by words gives the bytes of packing one bit at a time (the encoding's
    /// definition: each value's bits from the lowest, values in order), at every width.
    #[test]
    fn packed_groups_are_the_values_bits_in_order() {
        let mut x = 1u64;
        for width in 0..=32u8 {
            let max = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
            let values: Vec<u32> = (0..8 * 9 + 3)
                .map(|i| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    if i % 5 == 0 { max } else { (x >> 32) as u32 & max }
                })
                .collect();
            let mut groups: Vec<&[u32]> = values.chunks(8).collect();
            let mut got = Vec::new();
            flush_packed(&mut groups, width, &mut got);
            let mut want = Vec::new();
            varint(((values.len().div_ceil(8) as u64) << 1) | 1, &mut want);
            let bits: Vec<bool> = values
                .chunks(8)
                .flat_map(|g| (0..8).map(move |i| g.get(i).copied().unwrap_or(0)))
                .flat_map(|v| (0..width).map(move |b| v >> b & 1 == 1))
                .collect();
            want.extend(bits.chunks(8).map(|byte| byte.iter().rev().fold(0u8, |acc, &b| acc << 1 | u8::from(b))));
            assert_eq!(got, want, "width {width}");
        }
    }

    #[test]
    fn the_hybrid_encoding_reads_back_with_parquets_decoder() {
        // Runs of every length around the group of 8, widths 0 to 20, through a real file:
        // the values of a one-value dictionary (width 0) and of a wide one.
        for n in [1usize, 2, 300, 1 << 20] {
            let v = values(n, |i| Some(format!("{i}")));
            let input = batches(&v, 2, 9_999, |r| Some(((r / (r % 13 + 1)) % n) as i32));
            let [(a, _), (b, bm)] = both(ParquetOptions::default(), &input);
            assert_eq!(a, b, "{n} values");
            assert!(ours(&bm), "{n} values");
        }
    }

    /// Every row of a file read back, ordered by its last column (the row's place).
    fn rows_of(path: &std::path::Path) -> RecordBatch {
        let b = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
        let batches: Vec<RecordBatch> = b.build().unwrap().map(Result::unwrap).collect();
        let all = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
        let place = all.column(all.num_columns() - 1).clone();
        let order = arrow_ord::sort::sort_to_indices(&place, None, None).unwrap();
        arrow_select::take::take_record_batch(&all, &order).unwrap()
    }

    /// What a reader relies on in each chunk of each column: statistics, size statistics,
    /// the dictionary page, the bloom filter where there is one. (Page boundaries may
    /// differ from arrow-rs's, which ends pages only after its batches of 1,024 rows:
    /// [`check_int_pages`] checks the pages against the values.)
    fn chunk_metadata(path: &std::path::Path) -> Vec<String> {
        use parquet::file::properties::ReaderProperties;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::file::serialized_reader::ReadOptionsBuilder;
        let props = ReaderProperties::builder().set_read_bloom_filter(true).build();
        let opts = ReadOptionsBuilder::new().with_reader_properties(props).build();
        let r = SerializedFileReader::new_with_options(std::fs::File::open(path).unwrap(), opts).unwrap();
        let meta = r.metadata();
        let mut out = Vec::new();
        for g in 0..r.num_row_groups() {
            let rg = r.get_row_group(g).unwrap();
            for (c, col) in meta.row_group(g).columns().iter().enumerate() {
                let bloom = rg.get_column_bloom_filter(c).map(|f| {
                    let mut bytes = Vec::new();
                    f.write_bitset(&mut bytes).unwrap();
                    bytes
                });
                let stats = col.statistics().unwrap();
                out.push(format!(
                    "group {g} column {c}: {stats:?} exact {} {} levels {:?} unencoded {:?} dictionary {} bloom {bloom:?}",
                    stats.min_is_exact(),
                    stats.max_is_exact(),
                    col.definition_level_histogram(),
                    col.unencoded_byte_array_data_bytes(),
                    col.dictionary_page_offset().is_some(),
                ));
            }
        }
        out
    }

    /// Each page of each integer column of the file at `path`: its bounds in the column
    /// index hold its values and are their extremes, its null count and levels are its
    /// rows', the boundary order holds.
    fn check_int_pages(path: &std::path::Path) {
        let opts = ArrowReaderOptions::new().with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required);
        let b =
            ParquetRecordBatchReaderBuilder::try_new_with_options(std::fs::File::open(path).unwrap(), opts).unwrap();
        let meta = b.metadata().clone();
        let batches: Vec<RecordBatch> = b.build().unwrap().map(Result::unwrap).collect();
        let all = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
        let mut at = 0usize;
        for (g, rg) in meta.row_groups().iter().enumerate() {
            for c in 0..all.num_columns() {
                let values = arrow_cast::cast(all.column(c), &DataType::Int64).unwrap();
                let values = values.as_primitive::<Int64Type>();
                let pages = &meta.offset_index().unwrap()[g][c].page_locations;
                let index = &meta.column_index().unwrap()[g][c];
                let bounds: Vec<Option<(i64, i64)>> = match index {
                    ColumnIndexMetaData::INT32(i) => (0..pages.len())
                        .map(|p| i.min_value(p).map(|&lo| (i64::from(lo), i64::from(*i.max_value(p).unwrap()))))
                        .collect(),
                    ColumnIndexMetaData::INT64(i) => {
                        (0..pages.len()).map(|p| i.min_value(p).map(|&lo| (lo, *i.max_value(p).unwrap()))).collect()
                    }
                    other => panic!("an integer column index: {other:?}"),
                };
                for (p, page) in pages.iter().enumerate() {
                    let end = pages.get(p + 1).map_or(rg.num_rows() as usize, |n| n.first_row_index as usize);
                    let rows = at + page.first_row_index as usize..at + end;
                    let got: Vec<i64> = rows.clone().filter(|&r| values.is_valid(r)).map(|r| values.value(r)).collect();
                    let nulls = (rows.len() - got.len()) as i64;
                    assert_eq!(index.null_count(p), Some(nulls), "group {g} column {c} page {p}");
                    assert_eq!(index.definition_level_histogram(p), Some(&[nulls, got.len() as i64][..]));
                    let extremes = got.iter().min().map(|&lo| (lo, *got.iter().max().unwrap()));
                    assert_eq!(bounds[p], extremes, "group {g} column {c} page {p}'s bounds");
                }
                let b: Vec<(i64, i64)> = bounds.iter().flatten().copied().collect();
                let ascending = b.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1);
                if index.get_boundary_order() == Some(BoundaryOrder::ASCENDING) {
                    assert!(ascending, "group {g} column {c}: ascending as said");
                }
            }
            at += rg.num_rows() as usize;
        }
    }

    #[test]
    fn integer_columns_read_back_with_the_statistics_indexes_and_bloom_filters_arrow_rs_writes() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("port", DataType::Int32, true),
            Field::new("start", DataType::Int64, true),
            Field::new("far", DataType::Int32, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let rows = 7_001;
        let input: Vec<RecordBatch> = (0..3)
            .map(|b| {
                let at = |r: usize| b * rows + r;
                let port = Int32Array::from_iter(
                    (0..rows).map(|r| (at(r) % 11 != 0).then_some((at(r) * 7919 % 65_536) as i32)),
                );
                // Timestamps of a day, in runs (as a sorted batch's other columns are not).
                let start = Int64Array::from_iter(
                    (0..rows).map(|r| (at(r) % 13 != 0).then_some(1_690_848_000 + (at(r) / 3 * 37 % 86_400) as i64)),
                );
                // Values far apart, negative and extreme: beyond the direct table, hashed.
                let far = Int32Array::from_iter((0..rows).map(|r| match at(r) % 6 {
                    0 => None,
                    1 => Some(i32::MIN),
                    2 => Some(i32::MAX),
                    3 => Some(-((at(r) % 50) as i32) * 1_000_003),
                    _ => Some((at(r) % 40) as i32 * 40_000_000),
                }));
                let n = Int64Array::from_iter_values((0..rows).map(|r| at(r) as i64));
                let columns: Vec<ArrayRef> = vec![Arc::new(port), Arc::new(start), Arc::new(far), Arc::new(n)];
                RecordBatch::try_new(schema.clone(), columns).unwrap()
            })
            .collect();
        let opts = ParquetOptions {
            bloom_filter: vec!["port".into(), "start".into()],
            row_group_size: 8_000,
            page_rows: 1_000,
            ..ParquetOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let [theirs, ours] = both_files(dir.path(), opts, &input);
        let groups = 3 * rows / 8_000 + 1;
        for column in ["port", "start", "far", "n"] {
            assert_eq!(own_chunks(column), groups, "{column}: every chunk written by this module");
        }
        let want = arrow_select::concat::concat_batches(&schema, &input).unwrap();
        assert_eq!(rows_of(&ours), want, "every value read back");
        assert_eq!(rows_of(&theirs), want);
        let (a, b) = (chunk_metadata(&theirs), chunk_metadata(&ours));
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a, b, "chunk metadata alike");
        }
        check_int_pages(&ours);
        check_int_pages(&theirs);
    }

    #[test]
    fn an_integer_dictionary_past_its_limit_goes_to_arrow_rs_with_the_rows_so_far() {
        // 150,000 distinct INT64 values: 1.2 MB of dictionary, past its 1 MiB page.
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let input: Vec<RecordBatch> = (0..3)
            .map(|b| {
                let n =
                    Int64Array::from_iter((0..50_000).map(|r| (r % 17 != 0).then_some((b * 50_000 + r) as i64 * 3)));
                RecordBatch::try_new(schema.clone(), vec![Arc::new(n)]).unwrap()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let [theirs, ours] = both_files(dir.path(), ParquetOptions::default(), &input);
        assert_eq!(own_chunks("n"), 0, "handed to arrow-rs");
        let read = |p: &std::path::Path| {
            let b = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(p).unwrap()).unwrap();
            let batches: Vec<RecordBatch> = b.build().unwrap().map(Result::unwrap).collect();
            arrow_select::concat::concat_batches(&schema, &batches).unwrap()
        };
        let want = arrow_select::concat::concat_batches(&schema, &input).unwrap();
        assert_eq!(read(&ours), want);
        assert_eq!(read(&theirs), want);
        assert_eq!(chunk_metadata(&theirs), chunk_metadata(&ours));
        check_int_pages(&ours);
    }

    #[test]
    fn a_sealed_page_gives_back_its_rows() {
        for width in 0u8..=20 {
            for n in [1usize, 7, 8, 9, 500, 1_000] {
                let top = 1u64 << width;
                let rows: Vec<u32> = (0..n)
                    .map(|i| match i % 9 {
                        0 => NULL,
                        1..=4 => ((i as u64 * 2_654_435_761) % top) as u32,
                        _ => ((i as u64 / 40) % top) as u32,
                    })
                    .collect();
                let width_of = |page: &[u8]| page[4 + u32::from_le_bytes(page[..4].try_into().unwrap()) as usize];
                let top = rows.iter().filter(|&&id| id != NULL).max().map_or(0, |&id| id as usize + 1);
                let mut seen = 0;
                let page = data_page(&rows, &mut seen);
                assert_eq!(page_ids(&page, n), rows, "width {width}, {n} rows");
                assert_eq!((width_of(&page), seen), (bit_width(top), top), "the first page: its highest id's width");
                // After pages that used more ids, the width of all the ids used so far.
                let mut seen = 5_000;
                let page = data_page(&rows, &mut seen);
                assert_eq!(page_ids(&page, n), rows, "width {width}, {n} rows after others");
                assert_eq!(width_of(&page), bit_width(top.max(5_000)));
            }
        }
    }

    /// An integer dictionary counts the pages of its direct table that hold ids, not the
    /// whole table: timestamps of a few hours take a few pages, ports all of them.
    #[test]
    fn an_integer_dictionary_counts_the_table_pages_its_values_use() {
        let mut times = Ints::new(true);
        for t in 1_690_000_000..1_690_000_000 + 3 * 3600 {
            times.id(t);
        }
        let table = times.memory_size() - times.values.capacity() * 8;
        assert_eq!(table, 11 * 4096, "10,800 seconds from the middle of the table: 11 pages");
        let mut ports = Ints::new(false);
        for p in (0..65_536).step_by(7) {
            ports.id(p);
        }
        assert_eq!(ports.id(7), 1, "a value seen before keeps its id");
        assert_eq!(ports.memory_size() - ports.values.capacity() * 8, 64 * 4096, "every page of 0..65,536");
        let mut far = Ints::new(true);
        far.id(0);
        far.id(i64::MAX);
        far.id(i64::MIN);
        assert_eq!((far.id(i64::MAX), far.values.len()), (1, 3), "values outside the table are hashed");
    }
}
