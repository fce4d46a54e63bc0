//! Country and network of public addresses, from a MaxMind DB file (`.mmdb`: MaxMind's
//! GeoLite2 and GeoIP2 Country and ASN databases, DB-IP's lite databases, the
//! ip-location-db databases; the format: <https://maxmind.github.io/MaxMind-DB/>).
//!
//! The database's search tree is read once, with the `maxminddb` crate, into sorted
//! prefix ranges ([`PrefixMap`]); each distinct record is decoded once. A record gives
//! what it has of `country.iso_code` (MaxMind, DB-IP), `country_code` (ip-location-db),
//! else `registered_country.iso_code`; `autonomous_system_number` and
//! `autonomous_system_organization` (every ASN database). Several databases (a
//! country one and an ASN one) are asked in the order given, each value from the
//! first that has it.

use std::collections::HashMap;
use std::net::IpAddr;

use maxminddb::{Reader, WithinOptions};
use serde::Deserialize;

use super::prefixes::PrefixMap;
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
#[derive(Clone, Debug)]
pub struct GeoDb {
    /// The database's type, as its metadata says (`GeoLite2-Country`, `ipinfo …`).
    pub database_type: String,
    /// When it was built (Unix seconds, from its metadata).
    pub build_epoch: u64,
    /// Networks with an answer in its tree.
    pub networks: usize,
    entries: Vec<Geo>,
    map: PrefixMap<u32>,
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

impl GeoDb {
    /// Reads a MaxMind DB from `bytes`; `name` (the file or URL) names it in errors.
    pub fn parse(bytes: Vec<u8>, name: &str) -> Result<GeoDb> {
        let bad = |what: String| Error::Usage(format!("{name} is not a MaxMind DB (.mmdb) flowlake can read: {what}"));
        let reader = Reader::from_source(bytes).map_err(|e| bad(e.to_string()))?;
        let mut entries: Vec<Geo> = Vec::new();
        // Records by their offset in the data section: neighbouring networks mostly share
        // one, so the last is tried first.
        let mut by_offset: HashMap<usize, Option<u32>> = HashMap::new();
        let mut last: Option<(usize, Option<u32>)> = None;
        let mut blocks = Vec::new();
        for (n, item) in reader.networks(WithinOptions::default()).map_err(|e| bad(e.to_string()))?.enumerate() {
            let found = item.map_err(|e| bad(format!("network {}: {e}", n + 1)))?;
            let Some(offset) = found.offset() else { continue };
            let net = found.network().map_err(|e| bad(format!("network {}: {e}", n + 1)))?;
            let known = match last {
                Some((o, i)) if o == offset => Some(i),
                _ => by_offset.get(&offset).copied(),
            };
            let index = match known {
                Some(i) => i,
                None => {
                    let rec: Option<Record<'_>> =
                        found.decode().map_err(|e| bad(format!("the record of {net}: {e}")))?;
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
                    // A record with none of the three says nothing: the range stays unknown.
                    let i = geo.filter(|g| *g != Geo::default()).map(|g| {
                        entries.push(g);
                        entries.len() as u32 - 1
                    });
                    by_offset.insert(offset, i);
                    i
                }
            };
            last = Some((offset, index));
            if let Some(i) = index {
                let block = Cidr::new(net.network(), net.prefix()).map_err(|e| bad(format!("network {net}: {e}")))?;
                blocks.push((block, i));
            }
        }
        if entries.is_empty() {
            return Err(bad(format!(
                "its {} networks carry no country code nor ASN (country.iso_code, country_code, autonomous_system_number)",
                blocks.len()
            )));
        }
        Ok(GeoDb {
            database_type: reader.metadata.database_type.clone(),
            build_epoch: reader.metadata.build_epoch,
            networks: blocks.len(),
            // The tree holds each network once.
            map: PrefixMap::from_ids(blocks, entries.len() as u32),
            entries,
        })
    }

    /// The entry the database has for a public address (`None` for private ones, and
    /// where the database has nothing).
    #[inline]
    pub fn lookup_index(&self, addr: IpAddr) -> Option<u32> {
        if crate::ip::is_private(addr) {
            return None;
        }
        self.map.get(addr).copied()
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

    /// Ranges after flattening (neighbours of one answer merged).
    pub fn ranges(&self) -> usize {
        self.map.ranges()
    }
}
