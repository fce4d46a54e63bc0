//! The enrichment columns of a batch: each lookup field's values looked up in the tables
//! it needs, once per distinct value: a dictionary's values (as the parser builds them),
//! or a plain column's distinct values found by hashing (a run sorts its batches before it
//! enriches them, so the sort column's equal values are neighbours, found without
//! hashing). Each column's key per distinct value is then gathered by row, shared by the
//! columns of one lookup that always have a value. Only an address several interfaces
//! hold is looked up per row, in the record's VPC (where the row before has another
//! value or VPC).

use std::net::IpAddr;
use std::sync::Arc;

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{Schema, SchemaRef};

use super::Tables;
use crate::hash::{Ids, row_ids};
use crate::schema::{ColumnId, ENRICHED, EnrichAttr, EnrichTable, TableColumns};

/// No value or no answer: a null row, a value no table answers.
const NONE: u32 = u32::MAX;

/// What one lookup field's values found in a batch's tables, once per distinct value.
struct Answers {
    /// Per row: the index of its value among the distinct ones (`NONE`: null).
    ids: Vec<u32>,
    /// Per distinct value: its answer in AWS's ranges (`NONE`: none).
    aws: Vec<u32>,
    /// Per distinct value: its interface in the inventory where that is the same whatever
    /// the record's VPC (`NONE`: none)…
    interface: Vec<u32>,
    /// …else, when a value of the batch is held by several interfaces, each row's.
    interface_rows: Option<Vec<u32>>,
    /// Per MaxMind DB, per distinct value: its answer (`NONE`: none).
    geo: Vec<Vec<u32>>,
}

/// One lookup field of the table (`srcaddr`, …, `interface-id`) and the columns it fills.
struct Field {
    name: &'static str,
    /// Its position in the batch.
    position: usize,
    needs: [bool; 3],
}

/// Adds the enrichment columns to batches of one table's columns. Built once per run,
/// shared by the workers.
pub struct Enricher {
    tables: Arc<Tables>,
    fields: Vec<Field>,
    /// The enrichment columns, in table order: (index into `ENRICHED`, index into `fields`).
    columns: Vec<(usize, usize)>,
    /// The VPC of the record's own interface: `vpc-id`, else `interface-id`'s.
    vpc_position: Option<usize>,
    interface_position: Option<usize>,
    schema: SchemaRef,
    table: TableColumns,
    /// Each string attribute's distinct values, which its columns' ids point into.
    values: HashMap<EnrichAttr, Values>,
}

fn need_index(t: EnrichTable) -> usize {
    match t {
        EnrichTable::AwsIpRanges => 0,
        EnrichTable::Interfaces => 1,
        EnrichTable::Geoip => 2,
    }
}

impl Enricher {
    /// The enricher for batches of `input`'s columns; `None` when the tables add no column
    /// to such a table (none given, or it lacks every field they look up).
    pub fn new(tables: Arc<Tables>, input: &TableColumns) -> Option<Enricher> {
        Enricher::only(tables, input, |_| true)
    }

    /// As [`new`](Enricher::new), adding only the columns `keep` takes (the questions'
    /// `--enrich` computes those the table's files lack).
    pub fn only(tables: Arc<Tables>, input: &TableColumns, keep: impl Fn(&ColumnId) -> bool) -> Option<Enricher> {
        let added: Vec<ColumnId> = tables.columns_for(input).into_iter().filter(|c| keep(c)).collect();
        if added.is_empty() {
            return None;
        }
        let position = |name: &str| {
            let i = crate::schema::lookup(name).expect("a catalog field");
            input.position(&ColumnId::Known(i))
        };
        let mut fields: Vec<Field> = Vec::new();
        let mut columns = Vec::new();
        for id in &added {
            let ColumnId::Enriched(e) = *id else { unreachable!("columns_for gives enrichment columns") };
            let def = &ENRICHED[e];
            let f = match fields.iter().position(|f| f.name == def.field) {
                Some(f) => f,
                None => {
                    let at = position(def.field).expect("columns_for checked the field");
                    fields.push(Field { name: def.field, position: at, needs: [false; 3] });
                    fields.len() - 1
                }
            };
            fields[f].needs[need_index(def.attr.table())] = true;
            columns.push((e, f));
        }
        let table = TableColumns::from_columns(input.columns().iter().cloned().chain(added));
        let values = columns
            .iter()
            .map(|&(e, _)| ENRICHED[e].attr)
            .filter(|a| *a != EnrichAttr::Asn)
            .map(|a| (a, Values::of(&tables, a)))
            .collect();
        Some(Enricher {
            values,
            tables,
            fields,
            columns,
            vpc_position: position("vpc-id"),
            interface_position: position("interface-id"),
            schema: table.arrow_schema(),
            table,
        })
    }

    /// The columns of the batches it makes.
    pub fn table(&self) -> &TableColumns {
        &self.table
    }

    /// The schema of the batches it makes.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// `batch` (of the input's columns) with the enrichment columns after its own.
    pub fn apply(&self, batch: &RecordBatch) -> RecordBatch {
        self.enrich(batch, false)
    }

    /// As [`apply`](Enricher::apply), for the writer: each lookup field that was a plain
    /// string column (an address) becomes the dictionary of its distinct values, found
    /// for the lookups anyway, so that the writer maps each distinct value once instead of
    /// hashing each row again. (The file is the same: a chunk's dictionary holds its
    /// values in the order rows first use them either way.)
    pub fn apply_to_write(&self, batch: &RecordBatch) -> RecordBatch {
        self.enrich(batch, true)
    }

    fn enrich(&self, batch: &RecordBatch, dictionaries: bool) -> RecordBatch {
        // The records' VPCs, computed once and only if a value depends on them.
        let mut vpcs: Option<RowVpcs> = None;
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        let answers: Vec<Answers> = self
            .fields
            .iter()
            .map(|f| {
                let (answers, dictionary) = self.look_up(f, batch, &mut vpcs, dictionaries);
                if let Some(d) = dictionary {
                    arrays[f.position] = d;
                }
                answers
            })
            .collect();
        // Ids one lookup's columns share, by field and table.
        let mut shared: HashMap<(usize, EnrichTable), Int32Array> = HashMap::new();
        for &(e, f) in &self.columns {
            let attr = ENRICHED[e].attr;
            let a = &answers[f];
            let column = match self.values.get(&attr) {
                Some(values) if values.complete && attr.table() != EnrichTable::Geoip => {
                    let keys = shared.entry((f, attr.table())).or_insert_with(|| self.keys(attr, a, values));
                    dictionary(keys.clone(), values)
                }
                Some(values) => dictionary(self.keys(attr, a, values), values),
                None => self.asn(a),
            };
            arrays.push(column);
        }
        // The batch's own fields, then the enrichment's; each of its arrays' type (the
        // parser's dictionaries, the lookup fields made dictionaries here).
        let own = batch.schema();
        let fields = own.fields().iter().chain(&self.schema.fields()[own.fields().len()..]).cloned();
        let all = Schema::new_with_metadata(fields.collect::<Vec<_>>(), own.metadata().clone());
        let schema = crate::schema::with_types(&all, arrays.iter().map(|a| a.data_type().clone()));
        RecordBatch::try_new(schema, arrays).expect("enriched columns match the schema")
    }

    /// What tells each row's VPC number in the inventory: its `vpc-id`, else its interface's VPC.
    fn vpcs(&self, batch: &RecordBatch) -> RowVpcs {
        let inv = self.tables.interfaces.as_ref().expect("asked only with an inventory");
        RowVpcs {
            vpc: self.vpc_position.map(|p| PerRow::of(batch.column(p), |v| inv.vpc_index(v))),
            eni: self
                .interface_position
                .map(|p| PerRow::of(batch.column(p), |v| inv.index_by_id(v).and_then(|i| inv.vpc_of(i)))),
        }
    }

    /// What field `f`'s values find, each distinct value once (and, for an address several
    /// interfaces hold, each row by its VPC); with `dictionary`, a plain column as the
    /// dictionary of its distinct values too.
    fn look_up(
        &self,
        f: &Field,
        batch: &RecordBatch,
        vpcs: &mut Option<RowVpcs>,
        dictionary: bool,
    ) -> (Answers, Option<ArrayRef>) {
        let t = &*self.tables;
        let column = Distinct::of(batch.column(f.position));
        let dictionary = dictionary.then(|| column.to_dictionary()).flatten();
        let none = |n: usize| vec![NONE; n];
        if f.name == "interface-id" {
            let inv = t.interfaces.as_ref().expect("needed only with an inventory");
            let interface = column.each(|v| inv.index_by_id(v).unwrap_or(NONE), NONE);
            return (
                Answers {
                    aws: none(interface.len()),
                    interface,
                    interface_rows: None,
                    geo: Vec::new(),
                    ids: column.ids,
                },
                dictionary,
            );
        }
        let addrs: Vec<Option<IpAddr>> = column.each(crate::ip::parse_field, None);
        let answer = |lookup: &dyn Fn(IpAddr) -> Option<u32>| -> Vec<u32> {
            addrs.iter().map(|a| a.and_then(lookup).unwrap_or(NONE)).collect()
        };
        let aws = match t.aws.as_ref().filter(|_| f.needs[0]) {
            Some(x) => answer(&|a| x.lookup_index(a)),
            None => none(addrs.len()),
        };
        let (mut interface, mut interface_rows) = (none(addrs.len()), None);
        if let Some(inv) = t.interfaces.as_ref().filter(|_| f.needs[1]) {
            // An address several interfaces hold (AMBIGUOUS) is looked up per row, in the
            // record's VPC; a row with the value and VPC of the row before (a sorted
            // column's runs) takes that row's answer.
            const AMBIGUOUS: u32 = NONE - 1;
            let fixed = |a: &Option<IpAddr>| match a.map(|a| inv.index_in_any_vpc(a)) {
                Some(None) => AMBIGUOUS,
                Some(Some(i)) => i.unwrap_or(NONE),
                None => NONE,
            };
            interface = addrs.iter().map(fixed).collect();
            if interface.contains(&AMBIGUOUS) {
                let vpcs = vpcs.get_or_insert_with(|| self.vpcs(batch));
                let mut last: Option<(u32, Option<u32>, u32)> = None;
                let rows = column.ids.iter().enumerate().map(|(r, &v)| {
                    let i = if v == NONE { NONE } else { interface[v as usize] };
                    if i != AMBIGUOUS {
                        return i;
                    }
                    let vpc = vpcs.of(r);
                    match last {
                        Some((lv, lvpc, answer)) if lv == v && lvpc == vpc => answer,
                        _ => {
                            let a = addrs[v as usize].expect("an address has an answer");
                            let answer = inv.index_by_address(a, vpc).unwrap_or(NONE);
                            last = Some((v, vpc, answer));
                            answer
                        }
                    }
                });
                interface_rows = Some(rows.collect());
                interface.iter_mut().filter(|i| **i == AMBIGUOUS).for_each(|i| *i = NONE);
            }
        }
        let geo =
            if f.needs[2] { t.geo.iter().map(|db| answer(&|a| db.lookup_index(a))).collect() } else { Vec::new() };
        (Answers { ids: column.ids, aws, interface, interface_rows, geo }, dictionary)
    }

    /// The `asn` column: each row's value's ASN in the first MaxMind DB with one.
    fn asn(&self, a: &Answers) -> ArrayRef {
        let by_value: Vec<Option<i64>> = (0..a.aws.len())
            .map(|v| {
                a.geo
                    .iter()
                    .zip(&self.tables.geo)
                    .find_map(|(g, db)| (g[v] != NONE).then(|| db.entry(g[v]).asn).flatten())
            })
            .collect();
        if by_value.iter().all(Option::is_none) {
            // (A database of countries only: no row has one.)
            return arrow_array::new_null_array(&arrow_schema::DataType::Int64, a.ids.len());
        }
        let at = |v: u32| by_value.get(v as usize).copied().flatten();
        let values: Vec<i64> = a.ids.iter().map(|&v| at(v).unwrap_or(0)).collect();
        let valid = BooleanBuffer::collect_bool(a.ids.len(), |r| at(a.ids[r]).is_some());
        Arc::new(Int64Array::new(values.into(), Some(NullBuffer::new(valid)).filter(|n| n.null_count() > 0)))
    }

    /// The ids of one string column of `attr`: each row's answer's key among the values
    /// (no string is copied per row), a table per distinct value gathered by row.
    fn keys(&self, attr: EnrichAttr, a: &Answers, values: &Values) -> Int32Array {
        if let (EnrichTable::Interfaces, Some(rows)) = (attr.table(), &a.interface_rows) {
            return int_keys(rows.iter().map(|&i| values.key(i)).collect());
        }
        let by_value: Vec<i32> = match attr.table() {
            EnrichTable::AwsIpRanges => a.aws.iter().map(|&i| values.key(i)).collect(),
            EnrichTable::Interfaces => a.interface.iter().map(|&i| values.key(i)).collect(),
            // The first database with a value for it.
            EnrichTable::Geoip => (0..a.aws.len())
                .map(|v| {
                    let key = |(d, g): (usize, &Vec<u32>)| (g[v] != NONE).then(|| values.key(values.offsets[d] + g[v]));
                    a.geo.iter().enumerate().filter_map(key).find(|&k| k >= 0).unwrap_or(-1)
                })
                .collect(),
        };
        gather(&a.ids, by_value)
    }
}

/// Each row's key from the key of its value (`-1`: none); a null row's id (`NONE`) takes
/// the slot after the values, which is none.
fn gather(ids: &[u32], mut by_value: Vec<i32>) -> Int32Array {
    if by_value.iter().all(|&k| k < 0) {
        // No value has one (a database without networks' names, a batch of no AWS address).
        return Int32Array::new_null(ids.len());
    }
    by_value.push(-1);
    let last = by_value.len() - 1;
    int_keys(ids.iter().map(|&v| by_value[(v as usize).min(last)]).collect())
}

/// Keys, `-1` where a row has none, as an array: those rows null (their slots 0).
fn int_keys(mut keys: Vec<i32>) -> Int32Array {
    let valid = BooleanBuffer::collect_bool(keys.len(), |r| keys[r] >= 0);
    keys.iter_mut().for_each(|k| *k = (*k).max(0));
    Int32Array::new(keys.into(), Some(NullBuffer::new(valid)).filter(|n| n.null_count() > 0))
}

/// A string column of keys into an attribute's values.
fn dictionary(keys: Int32Array, values: &Values) -> ArrayRef {
    debug_assert!(keys.values().iter().all(|&k| (k as usize) < values.array.len().max(1)));
    // SAFETY: every key is 0 (a null row's slot) or one of `values.key`'s, which are below
    // `values.array.len()`; `try_new` would check that again per row, of 38 columns.
    Arc::new(unsafe { DictionaryArray::<Int32Type>::new_unchecked(keys, values.array.clone()) })
}

/// A string column's distinct values and, per row, the index of its value among them
/// (`NONE`: null): a dictionary's values and keys, or a plain column's distinct values
/// found by hashing (a row equal to the one before it takes its id unhashed: a sorted
/// column's runs).
struct Distinct<'a> {
    ids: Vec<u32>,
    values: &'a StringArray,
    /// For a plain column: the row holding each distinct value.
    rows: Option<Vec<u32>>,
}

impl<'a> Distinct<'a> {
    fn of(a: &'a ArrayRef) -> Distinct<'a> {
        if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
            let values = d.values().as_string::<i32>();
            let keys = d.keys();
            let ids = match (keys.null_count(), values.null_count()) {
                (0, 0) => keys.values().iter().map(|&k| k as u32).collect(),
                _ => keys
                    .values()
                    .iter()
                    .enumerate()
                    .map(|(r, &k)| if keys.is_valid(r) && values.is_valid(k as usize) { k as u32 } else { NONE })
                    .collect(),
            };
            return Distinct { ids, values, rows: None };
        }
        let values = a.as_string::<i32>();
        let (mut ids, mut rows) = (Vec::with_capacity(a.len()), Vec::<u32>::new());
        let mut table = Ids::default();
        let id_of = |r: usize, v: &[u8]| {
            let seen = &rows;
            let (id, new) = table.find_or_add(v, |id| values.value(seen[id as usize] as usize).as_bytes() == v);
            if new {
                rows.push(r as u32);
            }
            id
        };
        row_ids(values, id_of, |id| ids.push(id.unwrap_or(NONE)));
        Distinct { ids, values, rows: Some(rows) }
    }

    /// A plain column as the dictionary of its distinct values (`None`: it is one already).
    fn to_dictionary(&self) -> Option<ArrayRef> {
        let rows = self.rows.as_ref()?;
        let values: StringArray = rows.iter().map(|&r| Some(self.values.value(r as usize))).collect();
        let keys = int_keys(self.ids.iter().map(|&v| if v == NONE { -1 } else { v as i32 }).collect());
        Some(Arc::new(
            DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).expect("ids index the distinct values"),
        ))
    }

    /// `f` of each distinct value (`null` for a null value).
    fn each<T: Clone>(&self, f: impl Fn(&str) -> T, null: T) -> Vec<T> {
        let one = |v: usize| if self.values.is_valid(v) { f(self.values.value(v)) } else { null.clone() };
        match &self.rows {
            Some(rows) => rows.iter().map(|&r| one(r as usize)).collect(),
            None => (0..self.values.len()).map(one).collect(),
        }
    }
}

/// `f` of the values of a string column, computed once per distinct value and asked by row.
struct PerRow {
    /// Per row: the index of its value among the distinct ones (`NONE`: null).
    ids: Vec<u32>,
    /// Per distinct value: `f` of it (`NONE`: none).
    by_value: Vec<u32>,
}

impl PerRow {
    fn of(a: &ArrayRef, f: impl Fn(&str) -> Option<u32>) -> PerRow {
        let column = Distinct::of(a);
        let by_value = column.each(|v| f(v).unwrap_or(NONE), NONE);
        PerRow { ids: column.ids, by_value }
    }

    /// Row `r`'s answer, if any.
    #[inline]
    fn at(&self, r: usize) -> Option<u32> {
        let v = self.ids[r];
        (v != NONE).then(|| self.by_value[v as usize]).filter(|&x| x != NONE)
    }
}

/// Each row's VPC number in the inventory: its `vpc-id`'s, else its interface's VPC's.
/// Asked only for the rows whose address several interfaces hold.
struct RowVpcs {
    vpc: Option<PerRow>,
    eni: Option<PerRow>,
}

impl RowVpcs {
    fn of(&self, r: usize) -> Option<u32> {
        self.vpc.as_ref().and_then(|c| c.at(r)).or_else(|| self.eni.as_ref().and_then(|c| c.at(r)))
    }
}

/// One string attribute's values over the answers of its table: every answer's value in
/// answer order (AWS's ranges, the inventory), or each distinct value once (MaxMind DBs,
/// whose answers are numbered each database's after the previous one's); an empty value
/// is none.
struct Values {
    array: ArrayRef,
    /// Where each MaxMind DB's answers start.
    offsets: Vec<u32>,
    /// Every answer has a value, and its key is the answer itself: the columns of one
    /// lookup share their keys.
    complete: bool,
    /// Each answer's key (`-1`: no value), then `-1` for no answer.
    key_of: Vec<i32>,
}

impl Values {
    fn new(values: Vec<Option<&str>>, offsets: Vec<u32>) -> Values {
        let array: StringArray = values.into_iter().map(|v| v.filter(|s| !s.is_empty())).collect();
        let key_of = (0..array.len()).map(|k| if array.is_valid(k) { k as i32 } else { -1 }).chain([-1]).collect();
        Values { complete: array.null_count() == 0, array: Arc::new(array), offsets, key_of }
    }

    /// As [`new`](Values::new), each string once (a MaxMind DB's answers repeat a country
    /// code or network name many times): the writer then maps a short array.
    fn distinct(values: Vec<Option<&str>>, offsets: Vec<u32>) -> Values {
        let mut index: HashMap<&str, i32> = HashMap::new();
        let mut strings: Vec<&str> = Vec::new();
        let key_of = values
            .iter()
            .map(|v| match v.filter(|s| !s.is_empty()) {
                None => -1,
                Some(s) => *index.entry(s).or_insert_with(|| {
                    strings.push(s);
                    strings.len() as i32 - 1
                }),
            })
            .chain([-1])
            .collect();
        let array = StringArray::from(strings);
        Values { complete: false, array: Arc::new(array), offsets, key_of }
    }

    /// The key of answer `i` among the values: `-1` where it has no value, or for `NONE`.
    #[inline]
    fn key(&self, i: u32) -> i32 {
        self.key_of[(i as usize).min(self.key_of.len() - 1)]
    }

    /// The values of `attr` over the tables' answers.
    fn of(t: &Tables, attr: EnrichAttr) -> Values {
        use EnrichAttr as A;
        match attr.table() {
            EnrichTable::AwsIpRanges => {
                let e = t.aws.as_ref().map_or(&[][..], |a| a.entries());
                Values::new(
                    e.iter()
                        .map(|e| match attr {
                            A::AwsService => Some(e.service.as_str()),
                            A::AwsRegion => Some(e.region.as_str()),
                            _ => Some(e.network_border_group.as_str()),
                        })
                        .collect(),
                    Vec::new(),
                )
            }
            EnrichTable::Interfaces => {
                let e = t.interfaces.as_ref().map_or(&[][..], |i| i.entries());
                Values::new(
                    e.iter()
                        .map(|e| {
                            Some(match attr {
                                A::Owner => e.owner.as_str(),
                                A::AccountId => e.account_id.as_str(),
                                A::VpcId => e.vpc_id.as_str(),
                                A::SubnetId => e.subnet_id.as_str(),
                                A::InterfaceType => e.interface_type.as_str(),
                                A::SecurityGroups => e.security_groups.as_str(),
                                _ => e.description.as_str(),
                            })
                        })
                        .collect(),
                    Vec::new(),
                )
            }
            EnrichTable::Geoip => {
                let (mut all, mut offsets) = (Vec::new(), Vec::new());
                for db in &t.geo {
                    offsets.push(all.len() as u32);
                    all.extend(
                        db.entries()
                            .iter()
                            .map(|g| if attr == A::Country { g.country.as_deref() } else { g.as_org.as_deref() }),
                    );
                }
                Values::distinct(all, offsets)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::aws_ranges::AwsRanges;
    use crate::enrich::interfaces::Interfaces;
    use crate::schema::lookup;

    fn tables() -> Tables {
        let ranges = br#"{"syncToken": "1", "createDate": "2024-06-01-00-00-00",
            "prefixes": [
                {"ip_prefix": "52.0.0.0/8", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
                {"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"}],
            "ipv6_prefixes": [
                {"ipv6_prefix": "2600:1f18::/32", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}]}"#;
        let inv = serde_json::json!({"NetworkInterfaces": [
            {"NetworkInterfaceId": "eni-a", "OwnerId": "111122223333", "VpcId": "vpc-a", "SubnetId": "subnet-a",
             "InterfaceType": "interface", "Description": "",
             "Attachment": {"InstanceId": "i-a"}, "Groups": [{"GroupId": "sg-1"}],
             "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.5"}]},
            {"NetworkInterfaceId": "eni-b", "OwnerId": "444455556666", "VpcId": "vpc-b", "SubnetId": "subnet-b",
             "InterfaceType": "nat_gateway", "Description": "Interface for NAT Gateway nat-0b",
             "RequesterManaged": true, "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.5"}]}]});
        Tables {
            aws: Some(AwsRanges::parse(ranges, "ranges.json").unwrap()),
            interfaces: Some(Interfaces::parse(&[("inv.json".into(), inv.to_string().into_bytes())]).unwrap()),
            ..Tables::default()
        }
    }

    fn table(fields: &[&str]) -> TableColumns {
        TableColumns::from_columns(fields.iter().map(|f| ColumnId::Known(lookup(f).unwrap())))
    }

    fn batch(t: &TableColumns, rows: &[[Option<&str>; 4]]) -> RecordBatch {
        let cols: Vec<ArrayRef> =
            (0..4).map(|c| Arc::new(rows.iter().map(|r| r[c]).collect::<StringArray>()) as ArrayRef).collect();
        RecordBatch::try_new(t.arrow_schema(), cols).unwrap()
    }

    fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
        let c = b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
        let d = c.as_dictionary::<Int32Type>();
        let values = d.values().as_string::<i32>();
        d.keys().iter().map(|k| k.map(|k| values.value(k as usize).to_string())).collect()
    }

    #[test]
    fn columns_follow_the_tables_given_and_the_fields_the_table_has() {
        let t = Arc::new(tables());
        let input = table(&["interface-id", "srcaddr", "dstaddr", "vpc-id"]);
        let e = Enricher::new(t.clone(), &input).unwrap();
        let names: Vec<String> = e.table().columns().iter().map(|c| c.column_name()).collect();
        assert_eq!(&names[..4], ["interface_id", "srcaddr", "dstaddr", "vpc_id"]);
        assert!(names.contains(&"src_aws_service".to_string()) && names.contains(&"eni_owner".to_string()));
        assert!(!names.iter().any(|n| n.starts_with("pkt_") || n.ends_with("_country")), "{names:?}");
        // A table without any lookup field gets nothing.
        assert!(Enricher::new(t, &table(&["version", "action"])).is_none());
        assert!(Enricher::new(Arc::new(Tables::default()), &input).is_none());
    }

    #[test]
    fn each_row_gets_what_its_addresses_and_interface_are() {
        let input = table(&["interface-id", "srcaddr", "dstaddr", "vpc-id"]);
        let e = Enricher::new(Arc::new(tables()), &input).unwrap();
        let b = batch(
            &input,
            &[
                // The same private address in two VPCs: the record's VPC picks the interface.
                [Some("eni-a"), Some("10.0.0.5"), Some("52.216.1.1"), Some("vpc-a")],
                [Some("eni-b"), Some("10.0.0.5"), Some("52.1.1.1"), Some("vpc-b")],
                // No vpc-id: the VPC of the record's own interface.
                [Some("eni-b"), Some("10.0.0.5"), Some("2600:1f18::1"), None],
                // Nobody's address, no interface, a value that is no address.
                [Some("eni-zz"), Some("192.0.2.1"), Some("-"), None],
                [None, None, Some("not an address"), None],
            ],
        );
        let out = e.apply(&b);
        assert_eq!(out.num_rows(), 5);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(strings(&out, "src_owner"), [s("i-a"), s("nat-0b"), s("nat-0b"), None, None]);
        assert_eq!(strings(&out, "src_account_id")[..2], [s("111122223333"), s("444455556666")]);
        assert_eq!(strings(&out, "dst_aws_service"), [s("S3"), s("AMAZON"), s("EC2"), None, None]);
        assert_eq!(strings(&out, "dst_aws_region")[..3], [s("us-east-1"), s("us-east-1"), s("us-east-1")]);
        assert_eq!(strings(&out, "src_aws_service"), [None, None, None, None, None]);
        assert_eq!(strings(&out, "eni_owner"), [s("i-a"), s("nat-0b"), s("nat-0b"), None, None]);
        assert_eq!(strings(&out, "eni_security_groups"), [s("sg-1"), None, None, None, None]);
        // An empty description is no value.
        assert_eq!(strings(&out, "src_description")[0], None);
        assert_eq!(out.schema(), e.schema());
    }

    /// Runs of one address (as a sorted column has them) with another VPC midway, the
    /// same rows as dictionaries, and the rows in another order: every row gets the same.
    #[test]
    fn runs_dictionaries_and_row_order_give_each_row_the_same() {
        let input = table(&["interface-id", "srcaddr", "dstaddr", "vpc-id"]);
        let e = Enricher::new(Arc::new(tables()), &input).unwrap();
        let rows: Vec<[Option<&str>; 4]> = vec![
            [Some("eni-a"), Some("10.0.0.5"), Some("52.216.1.1"), Some("vpc-a")],
            [Some("eni-a"), Some("10.0.0.5"), Some("52.216.1.1"), Some("vpc-a")],
            [Some("eni-b"), Some("10.0.0.5"), Some("52.216.1.1"), Some("vpc-b")],
            [Some("eni-a"), Some("10.0.0.5"), None, Some("vpc-a")],
            [None, None, Some("52.1.1.1"), None],
            [Some("eni-b"), Some("10.0.0.5"), Some("52.1.1.1"), None],
            [Some("eni-a"), Some("52.216.1.1"), Some("10.0.0.5"), Some("vpc-a")],
        ];
        let columns = [
            "src_owner",
            "src_account_id",
            "src_description",
            "dst_aws_service",
            "dst_aws_region",
            "eni_owner",
            "eni_security_groups",
            "dst_owner",
        ];
        let answers = |b: &RecordBatch| -> Vec<Vec<Option<String>>> {
            let out = e.apply(b);
            let cols: Vec<Vec<Option<String>>> = columns.iter().map(|c| strings(&out, c)).collect();
            (0..b.num_rows()).map(|r| cols.iter().map(|c| c[r].clone()).collect()).collect()
        };
        let plain = batch(&input, &rows);
        let want = answers(&plain);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(want[1][..2], [s("i-a"), s("111122223333")]);
        assert_eq!(want[2][..2], [s("nat-0b"), s("444455556666")]);
        assert_eq!(want[3][..3], [s("i-a"), s("111122223333"), None]);
        assert_eq!(want[2][2], s("Interface for NAT Gateway nat-0b"));
        assert_eq!(want[6][7], s("i-a"));
        let dicts: Vec<ArrayRef> = plain
            .columns()
            .iter()
            .map(|c| arrow_cast::cast(c, &crate::schema::enriched_string_type()).unwrap())
            .collect();
        let fields: Vec<arrow_schema::Field> = dicts
            .iter()
            .zip(input.columns())
            .map(|(d, c)| arrow_schema::Field::new(c.column_name(), d.data_type().clone(), true))
            .collect();
        let dict = RecordBatch::try_new(Arc::new(Schema::new(fields)), dicts).unwrap();
        assert_eq!(answers(&dict), want);
        let order = [6usize, 2, 0, 5, 3, 1, 4];
        let shuffled: Vec<[Option<&str>; 4]> = order.iter().map(|&r| rows[r]).collect();
        let got = answers(&batch(&input, &shuffled));
        assert_eq!(got, order.iter().map(|&r| want[r].clone()).collect::<Vec<_>>());
    }

    /// For the writer, the plain address columns become dictionaries of their distinct
    /// values: every row reads back as before, nulls and repeats too, and the enrichment
    /// columns are the same.
    #[test]
    fn for_the_writer_plain_addresses_become_dictionaries_of_the_same_rows() {
        let input = table(&["interface-id", "srcaddr", "dstaddr", "vpc-id"]);
        let e = Enricher::new(Arc::new(tables()), &input).unwrap();
        let b = batch(
            &input,
            &[
                [Some("eni-a"), Some("10.0.0.5"), Some("52.216.1.1"), Some("vpc-a")],
                [Some("eni-a"), Some("10.0.0.5"), None, Some("vpc-a")],
                [Some("eni-b"), None, Some("52.216.1.1"), Some("vpc-b")],
                [Some("eni-b"), Some("10.0.0.5"), Some("2600:1f18::1"), Some("vpc-b")],
            ],
        );
        let (plain, written) = (e.apply(&b), e.apply_to_write(&b));
        for name in ["srcaddr", "dstaddr"] {
            assert!(plain.column_by_name(name).unwrap().as_dictionary_opt::<Int32Type>().is_none());
            let d = written.column_by_name(name).unwrap().as_dictionary::<Int32Type>();
            assert_eq!(d.values().len(), if name == "srcaddr" { 1 } else { 2 }, "each distinct value once");
            let want: Vec<Option<String>> =
                plain.column_by_name(name).unwrap().as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect();
            assert_eq!(strings(&written, name), want);
            assert_eq!(written.schema().field_with_name(name).unwrap().data_type(), d.data_type());
        }
        for c in ["src_owner", "dst_aws_service", "eni_owner", "dst_owner"] {
            assert_eq!(strings(&written, c), strings(&plain, c), "{c}");
        }
    }

    #[test]
    fn enrich_flags_name_a_kind_and_a_file() {
        let ok: crate::enrich::EnrichSpec = "aws-ip-ranges=ip-ranges.json".parse().unwrap();
        assert_eq!(ok.table, EnrichTable::AwsIpRanges);
        let geo: crate::enrich::EnrichSpec = "geoip=s3://bucket/geo/Country.mmdb".parse().unwrap();
        assert!(geo.location.is_remote());
        for bad in ["ip-ranges.json", "asn=x.mmdb", "geoip=", "=x"] {
            let e = bad.parse::<crate::enrich::EnrichSpec>().unwrap_err().to_string();
            assert!(e.contains("expected KIND=FILE, where KIND is aws-ip-ranges, interfaces or geoip"), "{e}");
        }
    }
}
