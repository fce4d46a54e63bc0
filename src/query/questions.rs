//! The classic flow-log questions as SQL over `flows`. Each builder checks
//! that the columns it needs exist, and adds partition filters for `--from` /
//! `--to` and text-range filters that Parquet statistics and bloom filters can
//! prune on, always alongside the exact numeric test.

use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::ip::{Cidr, PrivateRanges};
use crate::partition::{Layout, SqlDialect, format_day};

/// Which address of a flow a test applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Either `srcaddr` or `dstaddr`.
    #[default]
    Any,
    /// `srcaddr` only.
    Src,
    /// `dstaddr` only.
    Dst,
}

/// Filters every question accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// First day (days since 1970-01-01), inclusive: prunes partitions.
    pub from: Option<i64>,
    /// Last day, inclusive.
    pub to: Option<i64>,
    /// `ACCEPT` or `REJECT`.
    pub action: Option<String>,
    /// A port, matched on either side (`srcport` or `dstport`).
    pub port: Option<u16>,
    /// An IP protocol number (6 TCP, 17 UDP, …).
    pub protocol: Option<u8>,
}

/// `find`: every flow record touching an address or block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindQuery {
    /// The block to look for (a single address is a /32 or /128).
    pub target: Cidr,
    /// Which side must match.
    pub direction: Direction,
    /// Other filters.
    pub filter: Filter,
    /// Columns to print; empty for the usual ones, `*` for all.
    pub columns: Vec<String>,
    /// At most this many rows.
    pub limit: Option<u64>,
}

/// Who is behind an address, as the enrichment columns say (`--group-by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhoKey {
    /// The AWS service (`…_aws_service`, from `--enrich aws-ip-ranges`).
    Service,
    /// What owns the interface (`…_owner`, from `--enrich interfaces`).
    Owner,
    /// The country (`…_country`, from `--enrich geoip`).
    Country,
    /// The autonomous system (`…_asn`, with `…_as_org`, from `--enrich geoip`).
    Asn,
}

impl WhoKey {
    fn suffix(self) -> &'static str {
        match self {
            WhoKey::Service => "aws_service",
            WhoKey::Owner => "owner",
            WhoKey::Country => "country",
            WhoKey::Asn => "asn",
        }
    }
}

/// The enrichment columns the questions print beside an address, those the table has.
const WHO_COLUMNS: &[&str] = &["aws_service", "aws_region", "owner", "vpc_id", "country", "asn", "as_org"];

/// `sources`: distinct source addresses (optionally outside some blocks), with flows and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcesQuery {
    /// Leave out sources inside any of these blocks (the VPC's CIDRs).
    pub outside: Vec<Cidr>,
    /// Other filters.
    pub filter: Filter,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Group the sources by who is behind them instead of by address.
    pub group_by: Option<WhoKey>,
}

/// `private-cidrs`: the private ranges seen, grouped into blocks, with counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateCidrsQuery {
    /// Block size for IPv4 addresses (default 16).
    pub prefix_v4: u8,
    /// Block size for IPv6 addresses (default 48, an RFC 4193 site).
    pub prefix_v6: u8,
    /// Which families count as private (default RFC 1918 and RFC 4193).
    pub ranges: Vec<PrivateRanges>,
    /// Other filters.
    pub filter: Filter,
}

/// What `top` ranks by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Sum of `bytes`.
    Bytes,
    /// Sum of `packets`.
    Packets,
    /// Number of flow records.
    Flows,
}

/// What `top` groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopGroup {
    /// Source address.
    Srcaddr,
    /// Destination address.
    Dstaddr,
    /// Source and destination address.
    Pair,
    /// Destination port and protocol.
    Port,
}

/// `top`: the largest talkers, pairs or ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopQuery {
    /// Rank by.
    pub by: Metric,
    /// Group by.
    pub group: TopGroup,
    /// Rows to show.
    pub limit: u64,
    /// Other filters.
    pub filter: Filter,
    /// Group the addresses `group` names by who is behind them instead.
    pub group_by: Option<WhoKey>,
}

/// One of the built-in questions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Question {
    /// See [`FindQuery`].
    Find(FindQuery),
    /// See [`SourcesQuery`].
    Sources(SourcesQuery),
    /// See [`PrivateCidrsQuery`].
    PrivateCidrs(PrivateCidrsQuery),
    /// See [`TopQuery`].
    Top(TopQuery),
}

/// The columns `find` prints unless told otherwise (those the table has).
const FIND_COLUMNS: &[&str] = &[
    "start",
    "end",
    "interface_id",
    "srcaddr",
    "srcport",
    "dstaddr",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "action",
    "log_status",
];

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A quoted identifier.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Question {
    /// True when the question keeps few rows (`find`), so filtering while decoding pays;
    /// the aggregating questions keep most rows (measured: 25% faster without it).
    pub fn selective(&self) -> bool {
        matches!(self, Question::Find(_))
    }

    /// The SQL for this question over a table of `layout` with `columns`.
    pub fn sql(&self, layout: Layout, columns: &[String]) -> Result<String> {
        let need = |c: &str| -> Result<()> {
            if columns.iter().any(|x| x == c) {
                Ok(())
            } else if let Some(e) = crate::schema::ENRICHED.iter().find(|e| e.column == c) {
                Err(Error::Usage(format!(
                    "the table has no `{c}` column: convert it with --enrich {}=FILE to add it",
                    e.attr.table().name()
                )))
            } else {
                Err(Error::Failed(format!(
                    "the table has no `{c}` column (its flow-log format did not include the field), so this question cannot be answered"
                )))
            }
        };
        match self {
            Question::Find(q) => q.sql(layout, columns, &need),
            Question::Sources(q) => q.sql(layout, columns, &need),
            Question::PrivateCidrs(q) => q.sql(layout, &need),
            Question::Top(q) => q.sql(layout, &need),
        }
    }
}

/// Fails, naming the column, if the table has no such column.
type Need<'a> = dyn Fn(&str) -> Result<()> + 'a;

impl FindQuery {
    fn sql(&self, layout: Layout, columns: &[String], need: &Need<'_>) -> Result<String> {
        let q = self;
        let cols: Vec<String> = if q.columns.iter().any(|c| c == "*") {
            vec!["*".to_string()]
        } else if q.columns.is_empty() {
            let who = ["src", "dst"]
                .into_iter()
                .flat_map(|side| ["owner", "aws_service", "country"].map(|w| format!("{side}_{w}")));
            let wanted: Vec<String> = FIND_COLUMNS.iter().map(|c| c.to_string()).chain(who).collect();
            wanted.iter().filter(|c| columns.contains(c)).map(|c| ident(c)).collect()
        } else {
            // Names the user chose: a name the table lacks is a mistake in the command.
            if let Some(c) = q.columns.iter().find(|c| !columns.iter().any(|x| x == *c)) {
                return Err(Error::Usage(format!(
                    "the table has no column `{c}`; its columns are {}",
                    columns.join(", ")
                )));
            }
            q.columns.iter().map(|c| ident(c)).collect()
        };
        let mut wh = filter_sql(&q.filter, layout, need)?;
        wh.push(address_sql(&q.target, q.direction, need)?);
        // By time, then by every printed column, so the same question always prints the same lines.
        let mut order_cols: Vec<String> = Vec::new();
        if columns.iter().any(|c| c == "start") {
            order_cols.push(ident("start"));
        }
        if cols[0] != "*" {
            order_cols.extend(cols.iter().filter(|c| **c != ident("start")).cloned());
        }
        let order = if order_cols.is_empty() { String::new() } else { format!(" ORDER BY {}", order_cols.join(", ")) };
        let limit = q.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        Ok(format!("SELECT {} FROM flows WHERE {}{order}{limit}", cols.join(", "), wh.join(" AND ")))
    }
}

impl SourcesQuery {
    fn sql(&self, layout: Layout, columns: &[String], need: &Need<'_>) -> Result<String> {
        let q = self;
        for c in ["srcaddr", "bytes", "packets", "start", "end"] {
            need(c)?;
        }
        if let Some(k) = q.group_by {
            need(&format!("src_{}", k.suffix()))?;
        }
        let mut wh = filter_sql(&q.filter, layout, need)?;
        wh.push("\"srcaddr\" IS NOT NULL".to_string());
        if !q.outside.is_empty() {
            let inside: Vec<String> =
                q.outside.iter().map(|c| format!("cidr_contains({}, \"srcaddr\")", lit(&c.to_string()))).collect();
            // NOT NULL is NULL: a malformed address is never reported as outside.
            wh.push(format!("NOT ({})", inside.join(" OR ")));
            wh.extend(q.outside.iter().filter_map(|c| outside_text_range(c, "srcaddr")));
        }
        let limit = q.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let totals = "count(*) AS flows, sum(\"packets\") AS packets, sum(\"bytes\") AS bytes, \
             to_timestamp(min(\"start\")) AS first_seen, to_timestamp(max(\"end\")) AS last_seen";
        let (key, who) = match q.group_by {
            // Grouped by who is behind the sources: how many addresses each has.
            Some(k) => {
                let key = ident(&format!("src_{}", k.suffix()));
                let org = if k == WhoKey::Asn && columns.iter().any(|c| c == "src_as_org") {
                    ", min(\"src_as_org\") AS src_as_org"
                } else {
                    ""
                };
                (key, format!("{org}, count(DISTINCT \"srcaddr\") AS addresses"))
            }
            // By address, with what the enrichment columns say of it.
            None => {
                let who: String = WHO_COLUMNS
                    .iter()
                    .map(|w| format!("src_{w}"))
                    .filter(|c| columns.contains(c))
                    .map(|c| format!(", min({}) AS {}", ident(&c), ident(&c)))
                    .collect();
                (ident("srcaddr"), who)
            }
        };
        Ok(format!(
            "SELECT {key}{who}, {totals} FROM flows WHERE {} GROUP BY {key} \
             ORDER BY bytes DESC NULLS LAST, flows DESC, {key}{limit}",
            wh.join(" AND ")
        ))
    }
}

impl PrivateCidrsQuery {
    fn sql(&self, layout: Layout, need: &Need<'_>) -> Result<String> {
        let q = self;
        for c in ["srcaddr", "dstaddr", "bytes", "start", "end"] {
            need(c)?;
        }
        if q.prefix_v4 > 32 {
            return Err(Error::Usage(format!("--prefix {} is longer than an IPv4 address (32 bits)", q.prefix_v4)));
        }
        if q.prefix_v6 > 128 {
            return Err(Error::Usage(format!("--prefix6 {} is longer than an IPv6 address (128 bits)", q.prefix_v6)));
        }
        let ranges = if q.ranges.is_empty() { PrivateRanges::DEFAULT.to_vec() } else { q.ranges.clone() };
        let blocks: Vec<Cidr> = ranges.iter().flat_map(|r| r.blocks()).collect();
        let wh = filter_sql(&q.filter, layout, need)?;
        let wh = if wh.is_empty() { String::new() } else { format!(" AND {}", wh.join(" AND ")) };
        let in_blocks = |col: &str| -> String {
            if ranges == PrivateRanges::DEFAULT {
                // One parse per address instead of one per block.
                return format!("coalesce(is_private({col}), false)");
            }
            let t: Vec<String> =
                blocks.iter().map(|b| format!("cidr_contains({}, {col})", lit(&b.to_string()))).collect();
            format!("({})", t.join(" OR "))
        };
        let range_case: Vec<String> =
            blocks.iter().map(|b| format!("WHEN cidr_contains({0}, addr) THEN {0}", lit(&b.to_string()))).collect();
        // Aggregate per address first (a few thousand rows), then test and group the addresses.
        Ok(format!(
            "WITH per_addr AS (\
               SELECT \"srcaddr\" AS addr, count(*) AS src_flows, 0 AS dst_flows, \
                      sum(\"bytes\") AS src_bytes, 0 AS dst_bytes, min(\"start\") AS first, max(\"end\") AS last \
               FROM flows WHERE {src}{wh} GROUP BY \"srcaddr\" \
               UNION ALL \
               SELECT \"dstaddr\", 0, count(*), 0, sum(\"bytes\"), min(\"start\"), max(\"end\") \
               FROM flows WHERE {dst}{wh} GROUP BY \"dstaddr\") \
             SELECT cidr_of(addr, {p4}, {p6}) AS cidr, CASE {cases} END AS private_range, \
                    count(DISTINCT addr) AS addresses, \
                    sum(src_flows) AS src_flows, sum(dst_flows) AS dst_flows, \
                    sum(src_bytes) AS src_bytes, sum(dst_bytes) AS dst_bytes, \
                    to_timestamp(min(first)) AS first_seen, to_timestamp(max(last)) AS last_seen \
             FROM per_addr GROUP BY 1, 2 \
             ORDER BY src_flows + dst_flows DESC, cidr",
            src = in_blocks("\"srcaddr\""),
            dst = in_blocks("\"dstaddr\""),
            p4 = q.prefix_v4,
            p6 = q.prefix_v6,
            cases = range_case.join(" "),
        ))
    }
}

impl TopQuery {
    fn sql(&self, layout: Layout, need: &Need<'_>) -> Result<String> {
        let q = self;
        let group: &[&str] = match q.group {
            TopGroup::Srcaddr => &["srcaddr"],
            TopGroup::Dstaddr => &["dstaddr"],
            TopGroup::Pair => &["srcaddr", "dstaddr"],
            TopGroup::Port => &["dstport", "protocol"],
        };
        for c in group.iter().chain(["packets", "bytes"].iter()) {
            need(c)?;
        }
        let mut wh = filter_sql(&q.filter, layout, need)?;
        wh.extend(group.iter().map(|c| format!("{} IS NOT NULL", ident(c))));
        let g: Vec<String> = match q.group_by {
            None => group.iter().map(|c| ident(c)).collect(),
            // Who is behind the addresses: an address nobody is known behind groups as null.
            Some(k) => {
                let sides: &[&str] = match q.group {
                    TopGroup::Srcaddr => &["src"],
                    TopGroup::Dstaddr => &["dst"],
                    TopGroup::Pair => &["src", "dst"],
                    TopGroup::Port => {
                        return Err(Error::Usage(
                            "--group-by names who is behind an address: use it with --group srcaddr, dstaddr or pair"
                                .into(),
                        ));
                    }
                };
                let cols: Vec<String> = sides.iter().map(|s| format!("{s}_{}", k.suffix())).collect();
                for c in &cols {
                    need(c)?;
                }
                cols.iter().map(|c| ident(c)).collect()
            }
        };
        let by = match q.by {
            Metric::Bytes => "bytes",
            Metric::Packets => "packets",
            Metric::Flows => "flows",
        };
        Ok(format!(
            "SELECT {g}, count(*) AS flows, sum(\"packets\") AS packets, sum(\"bytes\") AS bytes \
             FROM flows WHERE {wh} GROUP BY {g} ORDER BY {by} DESC NULLS LAST, {g} LIMIT {limit}",
            g = g.join(", "),
            wh = wh.join(" AND "),
            limit = q.limit,
        ))
    }
}

/// The test that an address column is in `target`: a text range Parquet can
/// prune on (IPv4 blocks of /8 and longer), then the exact numeric test.
fn column_test(target: &Cidr, col: &str) -> String {
    let exact = format!("cidr_contains({}, {})", lit(&target.to_string()), ident(col));
    if target.network().is_ipv4() && target.prefix() == 32 {
        // One IPv4 address: equality with its dotted-quad text, the only way AWS writes it. Bloom
        // filters and statistics prune on it. (IPv6 text has many spellings: it gets the numeric test.)
        return format!("{} = {}", ident(col), lit(&target.network().to_string()));
    }
    match target.ipv4_text_prefix() {
        Some(p) => format!("({c} >= {} AND {c} < {} AND {exact})", lit(&p), lit(&after_prefix(&p)), c = ident(col)),
        None => format!("coalesce({exact}, false)"),
    }
}

/// For an IPv4 block of whole octets (/8, /16, /24), a text test every address outside
/// it passes (its canonical text does not start with the block's): implied by the exact
/// test, and one Parquet statistics and page indexes can prune on (sorted `srcaddr`).
fn outside_text_range(block: &Cidr, col: &str) -> Option<String> {
    if !block.network().is_ipv4() || !block.prefix().is_multiple_of(8) || block.prefix() == 32 {
        return None;
    }
    let p = block.ipv4_text_prefix()?;
    Some(format!("({c} < {} OR {c} >= {})", lit(&p), lit(&after_prefix(&p)), c = ident(col)))
}

/// The smallest string after every string that starts with `p`, a dotted prefix such as
/// `10.192.` ('.' + 1 is '/').
fn after_prefix(p: &str) -> String {
    let mut upper = p.trim_end_matches('.').to_string();
    upper.push('/');
    upper
}

fn address_sql(target: &Cidr, direction: Direction, need: &dyn Fn(&str) -> Result<()>) -> Result<String> {
    Ok(match direction {
        Direction::Src => {
            need("srcaddr")?;
            column_test(target, "srcaddr")
        }
        Direction::Dst => {
            need("dstaddr")?;
            column_test(target, "dstaddr")
        }
        Direction::Any => {
            need("srcaddr")?;
            need("dstaddr")?;
            format!("({} OR {})", column_test(target, "srcaddr"), column_test(target, "dstaddr"))
        }
    })
}

/// Partition filters for the date range (the partitions are by the UTC day of `start`), and the rest.
fn filter_sql(f: &Filter, layout: Layout, need: &dyn Fn(&str) -> Result<()>) -> Result<Vec<String>> {
    let mut wh = Vec::new();
    let day_expr = layout.day_sql(SqlDialect::DataFusion);
    if let Some(from) = f.from {
        wh.push(format!("{day_expr} >= {}", lit(&format_day(from))));
    }
    if let Some(to) = f.to {
        wh.push(format!("{day_expr} <= {}", lit(&format_day(to))));
    }
    if let Some(a) = &f.action {
        need("action")?;
        wh.push(format!("\"action\" = {}", lit(a)));
    }
    if let Some(p) = f.port {
        need("srcport")?;
        need("dstport")?;
        wh.push(format!("(\"srcport\" = {p} OR \"dstport\" = {p})"));
    }
    if let Some(p) = f.protocol {
        need("protocol")?;
        wh.push(format!("\"protocol\" = {p}"));
    }
    Ok(wh)
}

/// Parses `--ip`: an address becomes a /32 or /128 block.
pub fn ip_target(ip: IpAddr) -> Cidr {
    Cidr::host(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn find_sql_has_pruning_ranges_and_exact_tests() {
        let q = Question::Find(FindQuery {
            target: "10.192.0.0/16".parse().unwrap(),
            direction: Direction::Src,
            filter: Filter { from: Some(19570), to: Some(19571), ..Default::default() },
            columns: vec![],
            limit: None,
        });
        let sql = q.sql(Layout::Date, &cols(&["start", "srcaddr", "dstaddr", "date"])).unwrap();
        assert_eq!(
            sql,
            "SELECT \"start\", \"srcaddr\", \"dstaddr\" FROM flows WHERE \"date\" >= '2023-08-01' AND \"date\" <= '2023-08-02' \
             AND (\"srcaddr\" >= '10.192.' AND \"srcaddr\" < '10.192/' AND cidr_contains('10.192.0.0/16', \"srcaddr\")) \
             ORDER BY \"start\", \"srcaddr\", \"dstaddr\""
        );
        let missing = Question::Top(TopQuery {
            by: Metric::Bytes,
            group: TopGroup::Port,
            limit: 5,
            filter: Filter::default(),
            group_by: None,
        })
        .sql(Layout::Date, &cols(&["srcaddr", "bytes", "packets"]))
        .unwrap_err()
        .to_string();
        assert!(missing.contains("no `dstport` column"), "{missing}");
    }

    #[test]
    fn sources_outside_whole_octet_blocks_get_a_text_range() {
        let q = |cidrs: &[&str]| {
            Question::Sources(SourcesQuery {
                outside: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
                filter: Filter::default(),
                limit: None,
                group_by: None,
            })
            .sql(Layout::Date, &cols(&["srcaddr", "bytes", "packets", "start", "end", "date"]))
            .unwrap()
        };
        let sql = q(&["10.192.0.0/16", "10.0.0.0/12", "fd00::/8", "192.168.1.0/24"]);
        assert!(sql.contains("(\"srcaddr\" < '10.192.' OR \"srcaddr\" >= '10.192/')"), "{sql}");
        assert!(sql.contains("(\"srcaddr\" < '192.168.1.' OR \"srcaddr\" >= '192.168.1/')"), "{sql}");
        // Not whole octets: `10.200.0.1` starts with `10.` and is outside 10.0.0.0/12, so no range.
        assert!(!sql.contains("'10.'"), "{sql}");
    }

    #[test]
    fn aws_layout_dates() {
        let f = Filter { from: Some(19570), ..Default::default() };
        let wh = filter_sql(&f, Layout::Aws, &|_| Ok(())).unwrap();
        assert_eq!(wh, vec!["concat(\"year\", '-', \"month\", '-', \"day\") >= '2023-08-01'"]);
    }
}
