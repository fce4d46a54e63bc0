//! The flow-log field catalog, defined once.
//!
//! Every field AWS defines for VPC flow logs (versions 2 to 11) and Transit
//! Gateway flow logs, with its header name, its column name in AWS's own
//! Parquet delivery, its type and the version that introduced it. Parsing,
//! the Parquet schema, the DDL and the query layer all read this table, so
//! adding a field is a one-line change here.

use std::sync::Arc;

use arrow_schema::{DataType, Field as ArrowField, Schema, SchemaRef};
use serde::Serialize;

/// The type a field is stored as, matching AWS's Parquet delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Parquet INT32, Athena `int`.
    Int32,
    /// Parquet INT64, Athena `bigint`.
    Int64,
    /// Parquet BYTE_ARRAY with the STRING logical type, Athena `string`.
    String,
}

impl FieldType {
    /// The Arrow type of the column.
    pub fn arrow(self) -> DataType {
        match self {
            FieldType::Int32 => DataType::Int32,
            FieldType::Int64 => DataType::Int64,
            FieldType::String => DataType::Utf8,
        }
    }

    /// The Hive/Athena/Spark SQL type name (`int`, `bigint`, `string`).
    pub fn sql(self) -> &'static str {
        match self {
            FieldType::Int32 => "int",
            FieldType::Int64 => "bigint",
            FieldType::String => "string",
        }
    }

    /// The Parquet physical type name as AWS documents it.
    pub fn parquet(self) -> &'static str {
        match self {
            FieldType::Int32 => "INT32",
            FieldType::Int64 => "INT64",
            FieldType::String => "STRING",
        }
    }
}

/// Which kind of flow log defines a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogKind {
    /// VPC flow logs (and shared by Transit Gateway flow logs where the name is the same).
    Vpc,
    /// Transit Gateway flow logs only.
    TransitGateway,
}

/// What a field's values must look like, from AWS's "Available fields" table
/// (`../shared/flowlogs-reference.md`, "Values with a fixed syntax"). A line with a
/// value outside its field's check is rejected, with a reason naming the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Any token.
    Any,
    /// An IPv4 address in dotted-quad form, as AWS writes it (no leading zeros), or IPv6 text.
    Address,
    /// An integer in this inclusive range.
    Range(i64, i64),
    /// One of these values; the set has not changed since version 2, so anything else is invalid.
    OneOf(&'static [&'static str]),
    /// One of the values AWS documents today. AWS has added values to such sets before
    /// (`EFA` to `type`): anything else is rejected as unknown, and the run report names
    /// the value, so adding it here is a one-line change.
    Known(&'static [&'static str]),
    /// An integer in this inclusive range as AWS documents it today (a closed set that may grow, as [`Check::Known`]).
    KnownRange(i64, i64),
}

/// One field of the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The name in the header line and in `${…}` format strings, e.g. `log-status`.
    pub name: &'static str,
    /// The column name in Parquet and SQL, e.g. `log_status`.
    pub column: &'static str,
    /// The stored type.
    pub ty: FieldType,
    /// The flow-log version that introduced the field.
    pub version: u8,
    /// Which kind of flow log defines it.
    pub kind: LogKind,
    /// What its values must look like.
    pub check: Check,
}

const fn f(name: &'static str, column: &'static str, ty: FieldType, version: u8) -> FieldDef {
    FieldDef { name, column, ty, version, kind: LogKind::Vpc, check: Check::Any }
}

const fn tgw(name: &'static str, column: &'static str, ty: FieldType) -> FieldDef {
    FieldDef { name, column, ty, version: 6, kind: LogKind::TransitGateway, check: Check::Any }
}

impl FieldDef {
    const fn checked(self, check: Check) -> FieldDef {
        FieldDef { check, ..self }
    }
}

/// Ports: 0–65535.
const PORT: Check = Check::Range(0, 65_535);
/// Unix seconds from 1970 to 9999-12-31T23:59:59Z.
pub const UNIX_SECONDS: Check = Check::Range(0, 253_402_300_799);

use FieldType::{Int32 as I32, Int64 as I64, String as S};

/// The catalog, in the order of AWS's "Available fields" table; the output
/// table's columns follow this order. Transit Gateway-only fields come last.
///
/// Fields of versions 9 to 11 come from second-hand copies of the AWS table:
/// their Parquet types are not confirmed, so they are strings.
pub static CATALOG: &[FieldDef] = &[
    f("version", "version", I32, 2),
    f("account-id", "account_id", S, 2),
    f("interface-id", "interface_id", S, 2),
    f("srcaddr", "srcaddr", S, 2).checked(Check::Address),
    f("dstaddr", "dstaddr", S, 2).checked(Check::Address),
    f("srcport", "srcport", I32, 2).checked(PORT),
    f("dstport", "dstport", I32, 2).checked(PORT),
    f("protocol", "protocol", I32, 2).checked(Check::Range(0, 255)),
    f("packets", "packets", I64, 2).checked(Check::Range(0, i64::MAX)),
    f("bytes", "bytes", I64, 2).checked(Check::Range(0, i64::MAX)),
    f("start", "start", I64, 2).checked(UNIX_SECONDS),
    f("end", "end", I64, 2).checked(UNIX_SECONDS),
    f("action", "action", S, 2).checked(Check::OneOf(&["ACCEPT", "REJECT"])),
    f("log-status", "log_status", S, 2).checked(Check::OneOf(&["OK", "NODATA", "SKIPDATA"])),
    f("vpc-id", "vpc_id", S, 3),
    f("subnet-id", "subnet_id", S, 3),
    f("instance-id", "instance_id", S, 3),
    f("tcp-flags", "tcp_flags", I32, 3).checked(Check::Range(0, 255)),
    f("type", "type", S, 3).checked(Check::Known(&["IPv4", "IPv6", "EFA"])),
    f("pkt-srcaddr", "pkt_srcaddr", S, 3).checked(Check::Address),
    f("pkt-dstaddr", "pkt_dstaddr", S, 3).checked(Check::Address),
    f("region", "region", S, 4),
    f("az-id", "az_id", S, 4),
    f("sublocation-type", "sublocation_type", S, 4).checked(Check::Known(&["wavelength", "outpost", "localzone"])),
    f("sublocation-id", "sublocation_id", S, 4),
    f("pkt-src-aws-service", "pkt_src_aws_service", S, 5),
    f("pkt-dst-aws-service", "pkt_dst_aws_service", S, 5),
    f("flow-direction", "flow_direction", S, 5).checked(Check::Known(&["ingress", "egress"])),
    f("traffic-path", "traffic_path", I32, 5).checked(Check::KnownRange(1, 8)),
    f("ecs-cluster-arn", "ecs_cluster_arn", S, 7),
    f("ecs-cluster-name", "ecs_cluster_name", S, 7),
    f("ecs-container-instance-arn", "ecs_container_instance_arn", S, 7),
    f("ecs-container-instance-id", "ecs_container_instance_id", S, 7),
    f("ecs-container-id", "ecs_container_id", S, 7),
    f("ecs-second-container-id", "ecs_second_container_id", S, 7),
    f("ecs-service-name", "ecs_service_name", S, 7),
    f("ecs-task-definition-arn", "ecs_task_definition_arn", S, 7),
    f("ecs-task-arn", "ecs_task_arn", S, 7),
    f("ecs-task-id", "ecs_task_id", S, 7),
    f("reject-reason", "reject_reason", S, 8),
    f("resource-id", "resource_id", S, 9),
    f("encryption-status", "encryption_status", S, 10).checked(Check::Known(&["0", "1", "2", "3"])),
    f("instance-tag", "instance_tag", S, 11),
    f("instance-tag-2", "instance_tag_2", S, 11),
    f("interface-tag", "interface_tag", S, 11),
    f("interface-tag-2", "interface_tag_2", S, 11),
    f("asg-tag", "asg_tag", S, 11),
    f("asg-tag-2", "asg_tag_2", S, 11),
    f("interface-type", "interface_type", S, 11),
    f("next-hop-interface-id", "next_hop_interface_id", S, 11),
    f("next-hop-subnet-id", "next_hop_subnet_id", S, 11),
    f("next-hop-az-id", "next_hop_az_id", S, 11),
    f("next-hop-vpc-id", "next_hop_vpc_id", S, 11),
    f("next-hop-interface-type", "next_hop_interface_type", S, 11),
    tgw("resource-type", "resource_type", S),
    tgw("tgw-id", "tgw_id", S),
    tgw("tgw-attachment-id", "tgw_attachment_id", S),
    tgw("tgw-src-vpc-account-id", "tgw_src_vpc_account_id", S),
    tgw("tgw-dst-vpc-account-id", "tgw_dst_vpc_account_id", S),
    tgw("tgw-src-vpc-id", "tgw_src_vpc_id", S),
    tgw("tgw-dst-vpc-id", "tgw_dst_vpc_id", S),
    tgw("tgw-src-subnet-id", "tgw_src_subnet_id", S),
    tgw("tgw-dst-subnet-id", "tgw_dst_subnet_id", S),
    tgw("tgw-src-eni", "tgw_src_eni", S),
    tgw("tgw-dst-eni", "tgw_dst_eni", S),
    tgw("tgw-src-az-id", "tgw_src_az_id", S),
    tgw("tgw-dst-az-id", "tgw_dst_az_id", S),
    tgw("tgw-pair-attachment-id", "tgw_pair_attachment_id", S),
    tgw("packets-lost-no-route", "packets_lost_no_route", I64),
    tgw("packets-lost-blackhole", "packets_lost_blackhole", I64),
    tgw("packets-lost-mtu-exceeded", "packets_lost_mtu_exceeded", I64),
    tgw("packets-lost-ttl-expired", "packets_lost_ttl_expired", I64),
];

/// The fields of AWS's default format (version 2), in order.
pub const DEFAULT_FORMAT: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// Looks a field up by its header name (`log-status`); exact match.
pub fn lookup(name: &str) -> Option<usize> {
    CATALOG.iter().position(|f| f.name == name)
}

/// Looks a field up by header name or by column name (`log_status`).
pub fn lookup_loose(name: &str) -> Option<usize> {
    lookup(name).or_else(|| CATALOG.iter().position(|f| f.column == name))
}

/// The catalog field whose name is closest to `name`, for "did you mean" hints.
pub fn closest(name: &str) -> &'static str {
    CATALOG.iter().map(|f| (edit_distance(name, f.name), f.name)).min().map(|(_, n)| n).unwrap_or("version")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Turns a field name that is not in the catalog into a safe column name:
/// lower case, every character outside `[a-z0-9_]` becomes `_`.
pub fn sanitize_column(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Which lookup table fills an enrichment column (`--enrich KIND=…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnrichTable {
    /// AWS's published `ip-ranges.json`.
    AwsIpRanges,
    /// The account's `aws ec2 describe-network-interfaces` output.
    Interfaces,
    /// A MaxMind DB (country, ASN).
    Geoip,
}

impl EnrichTable {
    /// The name in `--enrich NAME=…` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            EnrichTable::AwsIpRanges => "aws-ip-ranges",
            EnrichTable::Interfaces => "interfaces",
            EnrichTable::Geoip => "geoip",
        }
    }
}

/// What of a lookup's answer an enrichment column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnrichAttr {
    /// The AWS service of the most specific range (`S3`, `EC2`, `AMAZON`, …).
    AwsService,
    /// The AWS region of the range (`us-east-1`, `GLOBAL`).
    AwsRegion,
    /// The network border group of the range.
    AwsBorderGroup,
    /// What owns the interface: the instance, else the NAT gateway, load balancer,
    /// Lambda function or endpoint its description names, else its requester.
    Owner,
    /// The account that owns the interface.
    AccountId,
    /// The interface's VPC.
    VpcId,
    /// The interface's subnet.
    SubnetId,
    /// The interface's type (`interface`, `nat_gateway`, `lambda`, …).
    InterfaceType,
    /// The interface's security groups, comma-separated.
    SecurityGroups,
    /// The interface's description.
    Description,
    /// The country (ISO 3166-1 alpha-2).
    Country,
    /// The autonomous system number.
    Asn,
    /// The autonomous system's organisation.
    AsOrg,
}

impl EnrichAttr {
    /// The lookup table that answers it.
    pub fn table(self) -> EnrichTable {
        use EnrichAttr::*;
        match self {
            AwsService | AwsRegion | AwsBorderGroup => EnrichTable::AwsIpRanges,
            Owner | AccountId | VpcId | SubnetId | InterfaceType | SecurityGroups | Description => {
                EnrichTable::Interfaces
            }
            Country | Asn | AsOrg => EnrichTable::Geoip,
        }
    }

    /// What the column holds, for the docs and `flowlake schema`.
    pub fn doc(self) -> &'static str {
        use EnrichAttr::*;
        match self {
            AwsService => {
                "the AWS service of the most specific AWS range holding the address (S3, EC2, CLOUDFRONT, …; AMAZON where no service's range holds it)"
            }
            AwsRegion => "the region of that AWS range (us-east-1, GLOBAL, …)",
            AwsBorderGroup => "the network border group of that AWS range",
            Owner => {
                "what owns the interface holding the address: the instance, else the NAT gateway, load balancer, Lambda function or endpoint its description names, else its requester"
            }
            AccountId => "the account that owns that interface",
            VpcId => "the VPC of that interface",
            SubnetId => "the subnet of that interface",
            InterfaceType => "the type of that interface (interface, nat_gateway, lambda, vpc_endpoint, …)",
            SecurityGroups => "the security groups of that interface, comma-separated",
            Description => "the description of that interface",
            Country => "the country of the address (ISO 3166-1 alpha-2), from the MaxMind DB",
            Asn => "the autonomous system number of the address, from the MaxMind DB",
            AsOrg => "the organisation of that autonomous system, from the MaxMind DB",
        }
    }

    /// The stored type.
    pub fn ty(self) -> FieldType {
        if self == EnrichAttr::Asn { FieldType::Int64 } else { FieldType::String }
    }
}

/// One enrichment column: what a lookup table says of one field of the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnrichedDef {
    /// The column name (`src_aws_service`).
    pub column: &'static str,
    /// The catalog field it is looked up by (`srcaddr`, or `interface-id`).
    pub field: &'static str,
    /// What of the answer it holds.
    pub attr: EnrichAttr,
}

const fn en(column: &'static str, field: &'static str, attr: EnrichAttr) -> EnrichedDef {
    EnrichedDef { column, field, attr }
}

use EnrichAttr as A;

/// The enrichment columns, in table order: they follow AWS's columns, and a table has
/// those of the lookup tables its runs were given, for the fields it has. AWS ranges
/// are looked up for all four addresses; interfaces and the MaxMind DB for `srcaddr` and
/// `dstaddr`; `interface-id` gets what the inventory says of the record's own interface.
/// (`pkt_…_range_…` and `eni_…`: AWS's catalog has `pkt_src_aws_service` and
/// `interface_type` already, so no enrichment column can be named like them.)
pub static ENRICHED: &[EnrichedDef] = &[
    en("src_aws_service", "srcaddr", A::AwsService),
    en("src_aws_region", "srcaddr", A::AwsRegion),
    en("src_aws_border_group", "srcaddr", A::AwsBorderGroup),
    en("src_owner", "srcaddr", A::Owner),
    en("src_account_id", "srcaddr", A::AccountId),
    en("src_vpc_id", "srcaddr", A::VpcId),
    en("src_subnet_id", "srcaddr", A::SubnetId),
    en("src_interface_type", "srcaddr", A::InterfaceType),
    en("src_security_groups", "srcaddr", A::SecurityGroups),
    en("src_description", "srcaddr", A::Description),
    en("src_country", "srcaddr", A::Country),
    en("src_asn", "srcaddr", A::Asn),
    en("src_as_org", "srcaddr", A::AsOrg),
    en("dst_aws_service", "dstaddr", A::AwsService),
    en("dst_aws_region", "dstaddr", A::AwsRegion),
    en("dst_aws_border_group", "dstaddr", A::AwsBorderGroup),
    en("dst_owner", "dstaddr", A::Owner),
    en("dst_account_id", "dstaddr", A::AccountId),
    en("dst_vpc_id", "dstaddr", A::VpcId),
    en("dst_subnet_id", "dstaddr", A::SubnetId),
    en("dst_interface_type", "dstaddr", A::InterfaceType),
    en("dst_security_groups", "dstaddr", A::SecurityGroups),
    en("dst_description", "dstaddr", A::Description),
    en("dst_country", "dstaddr", A::Country),
    en("dst_asn", "dstaddr", A::Asn),
    en("dst_as_org", "dstaddr", A::AsOrg),
    en("pkt_src_range_service", "pkt-srcaddr", A::AwsService),
    en("pkt_src_range_region", "pkt-srcaddr", A::AwsRegion),
    en("pkt_src_range_border_group", "pkt-srcaddr", A::AwsBorderGroup),
    en("pkt_dst_range_service", "pkt-dstaddr", A::AwsService),
    en("pkt_dst_range_region", "pkt-dstaddr", A::AwsRegion),
    en("pkt_dst_range_border_group", "pkt-dstaddr", A::AwsBorderGroup),
    en("eni_owner", "interface-id", A::Owner),
    en("eni_account_id", "interface-id", A::AccountId),
    en("eni_vpc_id", "interface-id", A::VpcId),
    en("eni_subnet_id", "interface-id", A::SubnetId),
    en("eni_type", "interface-id", A::InterfaceType),
    en("eni_security_groups", "interface-id", A::SecurityGroups),
];

/// `schema` with its fields of the types `types` (in order), names and metadata kept: a
/// batch whose columns were built in other Arrow types than the table's (dictionaries).
pub fn with_types(schema: &Schema, types: impl Iterator<Item = DataType>) -> SchemaRef {
    let fields: Vec<ArrowField> =
        schema.fields().iter().zip(types).map(|(f, t)| f.as_ref().clone().with_data_type(t)).collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The Arrow type of an enrichment column of strings: dictionary ids (the answer's index
/// in its lookup table) over the table's distinct values. Parquet stores it as a string column.
pub fn enriched_string_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// One column of an output table: a catalog field, a field the catalog does not know
/// yet (kept as a string so no data is lost), or an enrichment column.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ColumnId {
    /// Index into [`CATALOG`].
    Known(usize),
    /// A header name that is not in the catalog.
    Unknown(String),
    /// Index into [`ENRICHED`].
    Enriched(usize),
}

/// The column a Parquet or SQL column name stands for: a catalog field (by header or
/// column name), an enrichment column, else a field the catalog does not know.
pub fn column_id(name: &str) -> ColumnId {
    match lookup_loose(name) {
        Some(i) => ColumnId::Known(i),
        None => match ENRICHED.iter().position(|e| e.column == name) {
            Some(i) => ColumnId::Enriched(i),
            None => ColumnId::Unknown(name.to_string()),
        },
    }
}

impl ColumnId {
    /// The Parquet/SQL column name.
    pub fn column_name(&self) -> String {
        match self {
            ColumnId::Known(i) => CATALOG[*i].column.to_string(),
            ColumnId::Unknown(n) => sanitize_column(n),
            ColumnId::Enriched(i) => ENRICHED[*i].column.to_string(),
        }
    }

    /// The header name as it appears in files (an enrichment column's is its column name).
    pub fn header_name(&self) -> &str {
        match self {
            ColumnId::Known(i) => CATALOG[*i].name,
            ColumnId::Unknown(n) => n,
            ColumnId::Enriched(i) => ENRICHED[*i].column,
        }
    }

    /// The stored type (unknown fields are strings).
    pub fn ty(&self) -> FieldType {
        match self {
            ColumnId::Known(i) => CATALOG[*i].ty,
            ColumnId::Unknown(_) => FieldType::String,
            ColumnId::Enriched(i) => ENRICHED[*i].attr.ty(),
        }
    }

    /// What its values must look like (fields the catalog does not know take any token).
    pub fn check(&self) -> Check {
        match self {
            ColumnId::Known(i) => CATALOG[*i].check,
            ColumnId::Unknown(_) | ColumnId::Enriched(_) => Check::Any,
        }
    }

    /// The Arrow type flowlake reads and writes the column as, stored as `ty`: its type's,
    /// except that enrichment columns of strings are dictionary-encoded.
    pub fn arrow_type(&self, ty: FieldType) -> DataType {
        match (self, ty) {
            (ColumnId::Enriched(_), FieldType::String) => enriched_string_type(),
            (_, t) => t.arrow(),
        }
    }

    /// The flow-log version that introduced the field (0 for fields this build does not
    /// know, and for enrichment columns).
    pub fn version(&self) -> u8 {
        match self {
            ColumnId::Known(i) => CATALOG[*i].version,
            ColumnId::Unknown(_) | ColumnId::Enriched(_) => 0,
        }
    }
}

/// The columns of an output table: the union of every input format's fields,
/// catalog fields in catalog order, then unknown fields by name.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TableColumns {
    columns: Vec<ColumnId>,
}

impl TableColumns {
    /// Builds the table from any collection of columns (duplicates merged, order normalised).
    pub fn from_columns(cols: impl IntoIterator<Item = ColumnId>) -> Self {
        let mut columns: Vec<ColumnId> = cols.into_iter().collect();
        columns.sort();
        columns.dedup();
        TableColumns { columns }
    }

    /// The columns in table order.
    pub fn columns(&self) -> &[ColumnId] {
        &self.columns
    }

    /// Position of a column in the table.
    pub fn position(&self, id: &ColumnId) -> Option<usize> {
        self.columns.binary_search(id).ok()
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True when the table has no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The Arrow schema of the Parquet files (every column nullable, as in AWS's files).
    /// Enrichment columns of strings are dictionary-encoded in Arrow too: their values
    /// are a lookup table's few distinct answers.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<ArrowField> =
            self.columns.iter().map(|c| ArrowField::new(c.column_name(), c.arrow_type(c.ty()), true)).collect();
        Arc::new(Schema::new(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_are_unique_and_columns_derive_from_names() {
        for (i, a) in CATALOG.iter().enumerate() {
            assert_eq!(a.column, a.name.replace('-', "_"), "{}", a.name);
            for b in &CATALOG[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn aws_types_for_the_numeric_fields() {
        let ty = |n| CATALOG[lookup(n).unwrap()].ty;
        for n in ["version", "srcport", "dstport", "protocol", "tcp-flags", "traffic-path"] {
            assert_eq!(ty(n), FieldType::Int32, "{n}");
        }
        for n in ["packets", "bytes", "start", "end", "packets-lost-no-route"] {
            assert_eq!(ty(n), FieldType::Int64, "{n}");
        }
        assert_eq!(ty("account-id"), FieldType::String);
    }

    #[test]
    fn v2_to_v8_has_forty_fields() {
        let n = CATALOG.iter().filter(|f| f.kind == LogKind::Vpc && f.version <= 8).count();
        assert_eq!(n, 40);
    }

    #[test]
    fn closest_field_for_typos() {
        assert_eq!(closest("srcadr"), "srcaddr");
        assert_eq!(closest("log_status"), "log-status");
        assert_eq!(closest("tcpflags"), "tcp-flags");
    }

    #[test]
    fn enrichment_columns_are_unique_and_clash_with_no_field() {
        for (i, e) in ENRICHED.iter().enumerate() {
            assert!(lookup_loose(e.column).is_none(), "{} is a catalog column", e.column);
            assert!(ENRICHED[i + 1..].iter().all(|o| o.column != e.column), "{} twice", e.column);
            assert!(lookup(e.field).is_some(), "{} looks up a field the catalog lacks", e.column);
            assert_eq!(column_id(e.column), ColumnId::Enriched(i));
        }
        assert_eq!(column_id("log_status"), ColumnId::Known(lookup("log-status").unwrap()));
        assert_eq!(column_id("zz_new"), ColumnId::Unknown("zz_new".into()));
    }

    #[test]
    fn table_columns_follow_catalog_order() {
        let t = TableColumns::from_columns([
            ColumnId::Unknown("zz-new".into()),
            ColumnId::Known(lookup("start").unwrap()),
            ColumnId::Enriched(1),
            ColumnId::Known(lookup("version").unwrap()),
            ColumnId::Enriched(0),
            ColumnId::Known(lookup("start").unwrap()),
        ]);
        let names: Vec<String> = t.columns().iter().map(|c| c.column_name()).collect();
        assert_eq!(names, ["version", "start", "zz_new", "src_aws_service", "src_aws_region"]);
    }
}
