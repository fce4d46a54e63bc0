//! Country and network of public addresses, from a MaxMind DB file (`.mmdb`: MaxMind's
//! GeoLite2 and GeoIP2 Country and ASN databases, DB-IP's lite databases, the
//! ip-location-db databases; the format: <https://maxmind.github.io/MaxMind-DB/>).
//!
//! The database's search tree is walked once, each node once, to decode each record it
//! points to once; a lookup then walks the tree for the address with the `maxminddb`
//! crate (as MaxMind's reader does, aliases too: an IPv4-mapped `::ffff:a.b.c.d` or a 6to4
//! `2002:…` address gets its IPv4 address's answer), and takes its record's answer. A record gives
//! what it has of `country.iso_code` (MaxMind, DB-IP), `country_code` (ip-location-db),
//! else `registered_country.iso_code`; `autonomous_system_number` and
//! `autonomous_system_organization` (every ASN database). Several databases (a
//! country one and an ASN one) are asked in the order given, each value from the
//! first that has it.

use std::net::IpAddr;

use bytes::Bytes;
use maxminddb::Reader;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ip::Cidr;

/// What a database says of a network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<i64>,
    /// Autonomous system organisation.
    pub as_org: Option<String>,
}

/// One MaxMind DB, loaded.
pub struct GeoDb {
    /// The database's type, as its metadata says (`GeoLite2-Country`, `ipinfo …`).
    pub database_type: String,
    /// When it was built (Unix seconds, from its metadata).
    pub build_epoch: u64,
    /// Networks with an answer in its tree.
    pub networks: usize,
    entries: Vec<Geo>,
    /// The entry of each record that has one, by the record's offset in the data section
    /// (sorted by offset: the file chooses them, so they are searched, not hashed).
    by_offset: Vec<(usize, u32)>,
    reader: Reader<Bytes>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("database_type", &self.database_type)
            .field("build_epoch", &self.build_epoch)
            .field("networks", &self.networks)
            .field("entries", &self.entries.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    #[serde(borrow)]
    registered_country: Option<Country<'a>>,
    #[serde(borrow)]
    country_code: Option<&'a str>,
    autonomous_system_number: Option<Number>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

/// An unsigned number in whichever integer type the database stores it (writers pick
/// `uint16` for small ASNs, `uint32` for others).
struct Number(u64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Number, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an unsigned integer")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Number, E> {
                u64::try_from(v).map(Number).map_err(|_| E::custom(format!("a negative number {v}")))
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> std::result::Result<Number, E> {
                u64::try_from(v).map(Number).map_err(|_| E::custom(format!("a number too large ({v})")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A country code as databases write it: two ASCII letters (upper-cased here).
fn country_code(s: &str) -> Option<String> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

/// One data record the search tree points to: where it is in the data section, and the
/// first network (in address order) that points to it.
#[derive(Debug)]
struct Pointed {
    offset: usize,
    network: u128,
    prefix: u8,
    /// How many networks point to it.
    networks: usize,
}

/// The network a path of the tree stands for, as people write it: an IPv6 database's
/// IPv4 subtree (`::/96`) in IPv4 notation.
fn network_of(network: u128, prefix: u8, ip_version: u16) -> Cidr {
    let (addr, prefix) = match ip_version {
        4 => (IpAddr::V4(std::net::Ipv4Addr::from(network as u32)), prefix),
        _ if prefix >= 96 && network >> 32 == 0 => (IpAddr::V4(std::net::Ipv4Addr::from(network as u32)), prefix - 96),
        _ => (IpAddr::V6(std::net::Ipv6Addr::from(network)), prefix),
    };
    Cidr::new(addr, prefix).expect("a prefix within the address")
}

/// Walks the search tree (the format: <https://maxmind.github.io/MaxMind-DB/>) once, each
/// node once (an IPv6 database reaches its IPv4 subtree from `::/96` and from aliases such
/// as `::ffff:0:0/96`): every data record it points to, once, in address order.
fn pointed(
    tree: &[u8],
    node_count: usize,
    record_size: u16,
    ip_version: u16,
) -> std::result::Result<Vec<Pointed>, String> {
    let node_bytes = usize::from(record_size) / 4;
    if !matches!(record_size, 24 | 28 | 32) || tree.len() / node_bytes < node_count {
        return Err(format!("its search tree ({node_count} nodes of {record_size}-bit records) does not fit the file"));
    }
    let record = |node: usize, side: usize| -> usize {
        let b = &tree[node * node_bytes..(node + 1) * node_bytes];
        match (record_size, side) {
            (24, s) => (usize::from(b[3 * s]) << 16) | (usize::from(b[3 * s + 1]) << 8) | usize::from(b[3 * s + 2]),
            (28, 0) => {
                (usize::from(b[3] >> 4) << 24)
                    | (usize::from(b[0]) << 16)
                    | (usize::from(b[1]) << 8)
                    | usize::from(b[2])
            }
            (28, _) => {
                (usize::from(b[3] & 0x0f) << 24)
                    | (usize::from(b[4]) << 16)
                    | (usize::from(b[5]) << 8)
                    | usize::from(b[6])
            }
            (_, s) => u32::from_be_bytes(b[4 * s..4 * s + 4].try_into().expect("4 bytes")) as usize,
        }
    };
    let bits: u8 = if ip_version == 4 { 32 } else { 128 };
    let mut visited = vec![false; node_count];
    // Offsets are the file's choice: hashed with std's keyed hash.
    let mut seen: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut out: Vec<Pointed> = Vec::new();
    // (record, the depth it is at, the network's bits so far): a node's side 0 is taken
    // from the stack before its side 1, so records are met in address order.
    let mut stack: Vec<(usize, u8, u128)> = vec![(0, 0, 0)];
    while let Some((value, depth, network)) = stack.pop() {
        if value > node_count {
            let offset = value.checked_sub(node_count + 16).ok_or_else(|| {
                let net = network_of(network, depth, ip_version);
                format!("the record of {net} points inside the separator before the data")
            })?;
            match seen.entry(offset) {
                std::collections::hash_map::Entry::Occupied(at) => out[*at.get()].networks += 1,
                std::collections::hash_map::Entry::Vacant(at) => {
                    at.insert(out.len());
                    out.push(Pointed { offset, network, prefix: depth, networks: 1 });
                }
            }
            continue;
        }
        if value == node_count || std::mem::replace(&mut visited[value], true) {
            continue;
        }
        if depth >= bits {
            return Err(format!("its search tree is deeper than an address ({bits} bits)"));
        }
        for side in [1usize, 0] {
            stack.push((record(value, side), depth + 1, network | ((side as u128) << (bits - 1 - depth) as u32)));
        }
    }
    Ok(out)
}

impl GeoDb {
    /// Reads a MaxMind DB from `bytes`; `name` (the file or URL) names it in errors.
    ///
    /// Every record the search tree points to is decoded once, here (a malformed one is an
    /// error now, not at a lookup); a lookup walks the tree as MaxMind's reader does.
    pub fn parse(bytes: Vec<u8>, name: &str) -> Result<GeoDb> {
        let bad = |what: String| {
            Error::Usage(format!(
                "{name} is not a MaxMind DB (.mmdb) flowlake can read: {what} (download the database again, or give another)"
            ))
        };
        let bytes = Bytes::from(bytes);
        let reader = Reader::from_source(bytes.clone()).map_err(|e| bad(e.to_string()))?;
        let m = &reader.metadata;
        let tree_bytes = (m.node_count as usize).saturating_mul(usize::from(m.record_size) / 4);
        let tree = bytes.get(..tree_bytes).ok_or_else(|| bad("its search tree is longer than the file".into()))?;
        let records = pointed(tree, m.node_count as usize, m.record_size, m.ip_version).map_err(bad)?;
        let mut entries: Vec<Geo> = Vec::new();
        let mut by_offset: Vec<(usize, u32)> = Vec::new();
        let mut networks = 0usize;
        for p in &records {
            let net = network_of(p.network, p.prefix, m.ip_version);
            let found = reader.lookup(net.network()).map_err(|e| bad(format!("network {net}: {e}")))?;
            if found.offset() != Some(p.offset) {
                return Err(bad(format!("network {net}: its search tree leads two ways")));
            }
            let rec: Option<Record<'_>> = found.decode().map_err(|e| bad(format!("the record of {net}: {e}")))?;
            let geo = rec.map(|r| Geo {
                country: r
                    .country
                    .and_then(|c| c.iso_code)
                    .or(r.country_code)
                    .or_else(|| r.registered_country.and_then(|c| c.iso_code))
                    .and_then(country_code),
                asn: r.autonomous_system_number.and_then(|n| i64::try_from(n.0).ok()),
                as_org: r.autonomous_system_organization.filter(|o| !o.is_empty()).map(str::to_string),
            });
            // A record with none of the three says nothing: its networks stay unknown.
            if let Some(g) = geo.filter(|g| *g != Geo::default()) {
                by_offset.push((p.offset, entries.len() as u32));
                networks += p.networks;
                entries.push(g);
            }
        }
        by_offset.sort_unstable();
        if entries.is_empty() {
            return Err(bad(format!(
                "its {} networks carry no country code nor ASN (country.iso_code, country_code, autonomous_system_number)",
                records.iter().map(|p| p.networks).sum::<usize>()
            )));
        }
        Ok(GeoDb {
            database_type: m.database_type.clone(),
            build_epoch: m.build_epoch,
            networks,
            entries,
            by_offset,
            reader,
        })
    }

    /// The entry the database has for a public address (`None` for private ones, and
    /// where the database has nothing).
    #[inline]
    pub fn lookup_index(&self, addr: IpAddr) -> Option<u32> {
        if crate::ip::is_private(addr) {
            return None;
        }
        // (An IPv6 address in an IPv4 database: an error, which is no answer.)
        let found = self.reader.lookup(addr).ok()?;
        let offset = found.offset()?;
        let at = self.by_offset.binary_search_by_key(&offset, |&(o, _)| o).ok()?;
        Some(self.by_offset[at].1)
    }

    /// Entry `i` (from [`lookup_index`](GeoDb::lookup_index)).
    pub fn entry(&self, i: u32) -> &Geo {
        &self.entries[i as usize]
    }

    /// Every answer, in index order.
    pub fn entries(&self) -> &[Geo] {
        &self.entries
    }

    /// What the database says of `addr`.
    pub fn lookup(&self, addr: IpAddr) -> Option<&Geo> {
        self.lookup_index(addr).map(|i| self.entry(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search tree of `nodes` (left, right records) at `size` bits a record.
    fn tree(nodes: &[(usize, usize)], size: u16) -> Vec<u8> {
        let mut out = Vec::new();
        for &(l, r) in nodes {
            match size {
                24 => {
                    out.extend_from_slice(&(l as u32).to_be_bytes()[1..]);
                    out.extend_from_slice(&(r as u32).to_be_bytes()[1..]);
                }
                28 => {
                    let (l, r) = (l as u32, r as u32);
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.push((((l >> 24) & 0x0f) << 4) as u8 | ((r >> 24) & 0x0f) as u8);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                _ => {
                    out.extend_from_slice(&(l as u32).to_be_bytes());
                    out.extend_from_slice(&(r as u32).to_be_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn the_tree_walk_finds_each_record_once_in_address_order_at_every_record_size() {
        // Two nodes: 0.0.0.0/1 goes on to node 1, 128.0.0.0/1 is record 5; under node 1,
        // 0.0.0.0/2 is empty and 64.0.0.0/2 is record 0. Record values past the node count
        // and the 16-byte separator are data offsets; large ones test the 28-bit nibbles.
        for (size, far) in [(24u16, 0xAB_CDEF), (28, 0xABC_DEF0), (32, 0xFEDC_BA98)] {
            let n = 2;
            let data = |offset: usize| n + 16 + offset;
            let t = tree(&[(1, data(5)), (n, data(far - n - 16))], size);
            let records = pointed(&t, n, size, 4).unwrap();
            let got: Vec<(usize, String)> =
                records.iter().map(|p| (p.offset, network_of(p.network, p.prefix, 4).to_string())).collect();
            assert_eq!(got, [(far - n - 16, "64.0.0.0/2".to_string()), (5, "128.0.0.0/1".to_string())], "{size}-bit");
            assert!(records.iter().all(|p| p.networks == 1));
        }
    }

    #[test]
    fn an_ipv6_tree_names_its_ipv4_subtree_as_ipv4_and_walks_a_shared_node_once() {
        // ::/1 and 8000::/1 both lead to node 1 (as aliases lead to the IPv4 subtree):
        // its records are met once.
        let n = 2;
        let t = tree(&[(1, 1), (n + 16, n + 16 + 9)], 24);
        let records = pointed(&t, n, 24, 6).unwrap();
        assert_eq!(records.iter().map(|p| (p.offset, p.networks)).collect::<Vec<_>>(), [(0, 1), (9, 1)]);
        assert_eq!(network_of(0, 2, 6).to_string(), "::/2");
        assert_eq!(network_of(u128::from(0x0a00_0000u32), 104, 6).to_string(), "10.0.0.0/8");
    }

    #[test]
    fn a_malformed_tree_is_an_error_not_a_hang() {
        // A node pointing to itself is walked once.
        let records = pointed(&tree(&[(0, 0)], 24), 1, 24, 4).unwrap();
        assert!(records.is_empty());
        // A chain deeper than an address.
        let chain: Vec<(usize, usize)> = (0..40).map(|i| (i + 1, 40)).collect();
        let e = pointed(&tree(&chain, 32), 40, 32, 4).unwrap_err();
        assert!(e.contains("deeper than an address (32 bits)"), "{e}");
        // A record pointing into the separator, and a tree longer than the bytes.
        let e = pointed(&tree(&[(3, 40)], 24), 1, 24, 4).unwrap_err();
        assert!(e.contains("points inside the separator"), "{e}");
        let e = pointed(&tree(&[(1, 1)], 24), 5, 24, 4).unwrap_err();
        assert!(e.contains("does not fit the file"), "{e}");
    }
}
