//! AWS's published IP address ranges (`ip-ranges.json`, from
//! <https://ip-ranges.amazonaws.com/ip-ranges.json>; its syntax:
//! <https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-syntax.html>): which AWS
//! service, region and network border group an address is in.
//!
//! The file lists every AWS range under the service `AMAZON`, and again under a service
//! (`EC2`, `S3`, `CLOUDFRONT`, …) where one owns it, sometimes as a more specific block.
//! An address gets the most specific block naming a service; only an address that no
//! service's block holds gets `AMAZON`'s. Where AWS lists one block under several
//! services (`EC2` and `ROUTE53_HEALTHCHECKS`, say), the one other than `EC2` (which
//! names every instance range) is kept, then the first by name.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::prefixes::PrefixMap;
use crate::error::{Error, Result};
use crate::ip::Cidr;

/// What AWS says of a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsRange {
    /// The service (`S3`, `EC2`, `AMAZON`, …).
    pub service: String,
    /// The region (`us-east-1`, or `GLOBAL`).
    pub region: String,
    /// The network border group (`us-east-1`, `us-west-2-lax-1`, `GLOBAL`).
    pub network_border_group: String,
}

/// `ip-ranges.json`, loaded.
#[derive(Clone, Debug)]
pub struct AwsRanges {
    /// The publication time, as AWS writes it (Unix seconds, as text).
    pub sync_token: String,
    /// The publication date and time, as AWS writes it (`2024-06-01-12-30-05`).
    pub create_date: String,
    /// Distinct (service, region, border group) answers.
    entries: Vec<AwsRange>,
    services: PrefixMap<u32>,
    amazon: PrefixMap<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    sync_token: String,
    create_date: String,
    #[serde(default, rename = "prefixes")]
    v4: Vec<Entry>,
    #[serde(default, rename = "ipv6_prefixes")]
    v6: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(alias = "ipv6_prefix")]
    ip_prefix: String,
    region: String,
    network_border_group: String,
    service: String,
}

/// True for a value AWS writes in a name field: letters, digits, `-`, `_`, at most 64.
fn is_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AwsRanges {
    /// Reads `ip-ranges.json` from `bytes`; `name` (the file or URL) names it in errors.
    pub fn parse(bytes: &[u8], name: &str) -> Result<AwsRanges> {
        let bad =
            |what: String| Error::Usage(format!("{name} is not AWS's ip-ranges.json as AWS publishes it: {what}"));
        let file: File = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let (mut services, mut amazon) = (Vec::new(), Vec::new());
        let mut entries: Vec<AwsRange> = Vec::new();
        let mut seen: HashMap<(String, String, String), u32> = HashMap::new();
        for (list, family) in [(&file.v4, "prefixes"), (&file.v6, "ipv6_prefixes")] {
            for (i, e) in list.iter().enumerate() {
                let entry = || format!("entry {} of {family} (`{}`, {})", i + 1, e.ip_prefix, e.service);
                let block: Cidr = e.ip_prefix.parse().map_err(|err| bad(format!("{}: {err}", entry())))?;
                let v6 = matches!(block.network(), IpAddr::V6(_));
                if v6 != (family == "ipv6_prefixes") {
                    return Err(bad(format!("{}: not an {} block", entry(), if v6 { "IPv4" } else { "IPv6" })));
                }
                if !e.ip_prefix.contains('/') {
                    return Err(bad(format!("{}: not a block (ADDRESS/PREFIX)", entry())));
                }
                if !same_block(&block, &e.ip_prefix) {
                    return Err(bad(format!("{}: it has bits set past its prefix (the block is {block})", entry())));
                }
                for (field, v) in
                    [("region", &e.region), ("network_border_group", &e.network_border_group), ("service", &e.service)]
                {
                    if !is_name(v) {
                        return Err(bad(format!("{}: its {field} `{}` is not a name", entry(), v.escape_debug())));
                    }
                }
                let key = (e.service.clone(), e.region.clone(), e.network_border_group.clone());
                let index = *seen.entry(key).or_insert_with(|| {
                    entries.push(AwsRange {
                        service: e.service.clone(),
                        region: e.region.clone(),
                        network_border_group: e.network_border_group.clone(),
                    });
                    entries.len() as u32 - 1
                });
                if e.service == "AMAZON" { amazon.push((block, index)) } else { services.push((block, index)) }
            }
        }
        // One block under several services: any but EC2 over EC2, then the first by name.
        let rank = |i: u32| {
            let s = &entries[i as usize].service;
            (s == "EC2", s.clone())
        };
        let services = PrefixMap::build(services, |kept, later| {
            if rank(later) < rank(*kept) {
                *kept = later;
            }
        });
        let amazon = PrefixMap::build(amazon, |_, _| {});
        Ok(AwsRanges { sync_token: file.sync_token, create_date: file.create_date, entries, services, amazon })
    }

    /// What AWS says of the range `addr` is in: the most specific block of a service,
    /// else `AMAZON`'s; `None` outside AWS's ranges.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<&AwsRange> {
        self.lookup_index(addr).map(|i| self.entry(i))
    }

    /// The answer's index (for [`entry`](AwsRanges::entry)), as [`lookup`](AwsRanges::lookup).
    #[inline]
    pub fn lookup_index(&self, addr: IpAddr) -> Option<u32> {
        self.services.get(addr).or_else(|| self.amazon.get(addr)).copied()
    }

    /// Answer `i`.
    pub fn entry(&self, i: u32) -> &AwsRange {
        &self.entries[i as usize]
    }

    /// Every answer, in index order.
    pub fn entries(&self) -> &[AwsRange] {
        &self.entries
    }

    /// Distinct blocks, of services and of `AMAZON`.
    pub fn blocks(&self) -> usize {
        self.services.len() + self.amazon.len()
    }
}

/// True when `text` names exactly `block` (an IPv6 block written another way, such as
/// with leading zeros, compares by value).
fn same_block(block: &Cidr, text: &str) -> bool {
    let Some((a, p)) = text.split_once('/') else { return false };
    a.parse::<IpAddr>().is_ok_and(|a| a == block.network()) && p.parse::<u8>().is_ok_and(|p| p == block.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in the shape AWS publishes (the syntax page's fields, real blocks).
    fn file(v4: &[(&str, &str, &str)], v6: &[(&str, &str, &str)]) -> Vec<u8> {
        let entries = |list: &[(&str, &str, &str)], key: &str| -> Vec<serde_json::Value> {
            list.iter()
                .map(|(p, region, service)| {
                    serde_json::json!({key: p, "region": region, "network_border_group": region, "service": service})
                })
                .collect()
        };
        serde_json::to_vec_pretty(&serde_json::json!({
            "syncToken": "1717245005",
            "createDate": "2024-06-01-12-30-05",
            "prefixes": entries(v4, "ip_prefix"),
            "ipv6_prefixes": entries(v6, "ipv6_prefix"),
        }))
        .unwrap()
    }

    fn service<'a>(r: &'a AwsRanges, a: &str) -> Option<(&'a str, &'a str)> {
        r.lookup(a.parse().unwrap()).map(|x| (x.service.as_str(), x.region.as_str()))
    }

    #[test]
    fn an_address_gets_the_most_specific_service_then_amazon() {
        let r = AwsRanges::parse(
            &file(
                &[
                    ("52.94.0.0/16", "us-east-1", "AMAZON"),
                    ("52.94.5.0/24", "us-east-1", "AMAZON"),
                    ("52.94.5.0/24", "us-east-1", "S3"),
                    ("52.216.0.0/15", "us-east-1", "S3"),
                    ("52.216.10.0/24", "us-east-1", "AMAZON"),
                    ("3.5.0.0/19", "GLOBAL", "EC2"),
                    ("3.5.0.0/19", "GLOBAL", "ROUTE53_HEALTHCHECKS"),
                    ("3.5.0.0/19", "GLOBAL", "AMAZON"),
                    ("13.32.0.0/15", "GLOBAL", "CLOUDFRONT"),
                ],
                &[
                    ("2600:1f18::/33", "us-east-1", "AMAZON"),
                    ("2600:1f18::/33", "us-east-1", "EC2"),
                    ("2600:1f18:4000::/36", "us-east-1", "S3"),
                ],
            ),
            "ip-ranges.json",
        )
        .unwrap();
        assert_eq!((r.sync_token.as_str(), r.create_date.as_str()), ("1717245005", "2024-06-01-12-30-05"));
        for (a, want) in [
            ("52.94.5.9", Some(("S3", "us-east-1"))),
            ("52.94.6.1", Some(("AMAZON", "us-east-1"))),
            ("52.216.10.7", Some(("S3", "us-east-1"))), // a service's block over AMAZON's more specific one
            ("3.5.1.1", Some(("ROUTE53_HEALTHCHECKS", "GLOBAL"))),
            ("13.33.255.255", Some(("CLOUDFRONT", "GLOBAL"))),
            ("52.95.0.1", None),
            ("10.192.0.5", None),
            ("2600:1f18::5", Some(("EC2", "us-east-1"))),
            ("2600:1f18:4abc::1", Some(("S3", "us-east-1"))),
            ("2600:1f19::1", None),
        ] {
            assert_eq!(service(&r, a), want, "{a}");
        }
        assert_eq!(r.blocks(), 11, "6 blocks of services (one under two), 5 of AMAZON");
    }

    #[test]
    fn malformed_entries_are_named() {
        let err = |v4: &[(&str, &str, &str)], v6: &[(&str, &str, &str)]| {
            AwsRanges::parse(&file(v4, v6), "ranges.json").unwrap_err().to_string()
        };
        let e = err(&[("52.94.0.0/16", "us-east-1", "AMAZON"), ("52.94.0.0/33", "us-east-1", "S3")], &[]);
        assert!(
            e.starts_with("ranges.json is not AWS's ip-ranges.json")
                && e.contains("entry 2 of prefixes (`52.94.0.0/33`, S3)"),
            "{e}"
        );
        let e = err(&[("52.94.0.1/16", "us-east-1", "S3")], &[]);
        assert!(e.contains("bits set past its prefix (the block is 52.94.0.0/16)"), "{e}");
        let e = err(&[("2600:1f18::/33", "us-east-1", "S3")], &[]);
        assert!(e.contains("not an IPv4 block"), "{e}");
        let e = err(&[("52.94.0.0", "us-east-1", "S3")], &[]);
        assert!(e.contains("not a block (ADDRESS/PREFIX)"), "{e}");
        let e = err(&[], &[("2600:1f18::/33", "us east", "S3")]);
        assert!(e.contains("entry 1 of ipv6_prefixes") && e.contains("region `us east` is not a name"), "{e}");
        let e = AwsRanges::parse(b"{\"prefixes\": []}", "x.json").unwrap_err().to_string();
        assert!(e.contains("x.json") && e.contains("syncToken"), "{e}");
        // Written with leading zeros, an IPv6 block is still the same block.
        assert!(AwsRanges::parse(&file(&[], &[("2600:1f18:0000::/33", "us-east-1", "S3")]), "x").is_ok());
    }
}
