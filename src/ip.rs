//! Addresses and CIDR blocks as numbers: parsing, membership, prefixes, and the
//! private ranges. Everything here compares bits, never text.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A CIDR block (`10.192.0.0/16`, `fd00::/8`). A bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why an address or CIDR argument was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidCidr(pub String);

impl fmt::Display for InvalidCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Cidr {
    /// The block of `prefix` leading bits around `addr` (host bits cleared).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Cidr, InvalidCidr> {
        let max = max_prefix(addr);
        if prefix > max {
            return Err(InvalidCidr(format!(
                "prefix /{prefix} is longer than an {} address ({max} bits)",
                if max == 32 { "IPv4" } else { "IPv6" }
            )));
        }
        Ok(Cidr { network: mask(addr, prefix), prefix })
    }

    /// The block of `addr` alone (a /32 or a /128).
    pub fn host(addr: IpAddr) -> Cidr {
        Cidr { network: addr, prefix: max_prefix(addr) }
    }

    /// The first address of the block.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True when `addr` is in this block (an IPv4 address is never in an IPv6 block).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask_bits_u32(self.prefix);
                u32::from(a) & m == u32::from(n)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = mask_bits_u128(self.prefix);
                u128::from(a) & m == u128::from(n)
            }
            _ => false,
        }
    }

    /// For an IPv4 block of at least 8 bits, the text every member's dotted
    /// form starts with (`10.192.` for `10.192.0.0/16`, `10.` for `10.0.0.0/12`).
    /// Canonical dotted-quad text (what AWS writes) of a member always starts
    /// with it, so `addr >= p AND addr < p'` with `p'` the next string after
    /// the prefix is a necessary condition that Parquet statistics can prune on.
    pub fn ipv4_text_prefix(&self) -> Option<String> {
        let IpAddr::V4(n) = self.network else { return None };
        let whole = usize::from(self.prefix / 8);
        if whole == 0 {
            return None;
        }
        let o = n.octets();
        if whole == 4 {
            // A single address: its whole text.
            return Some(n.to_string());
        }
        let mut s = String::new();
        for b in &o[..whole] {
            s.push_str(&b.to_string());
            s.push('.');
        }
        Some(s)
    }
}

impl FromStr for Cidr {
    type Err = InvalidCidr;
    /// Parses `ADDR/PREFIX` or a bare `ADDR`. Host bits are cleared, as most
    /// tools do (`10.192.80.5/16` is `10.192.0.0/16`).
    fn from_str(s: &str) -> Result<Cidr, InvalidCidr> {
        let t = s.trim();
        let bad = || {
            InvalidCidr(format!(
                "invalid CIDR `{s}`: expected ADDRESS/PREFIX such as 10.192.0.0/16 or fd00::/8, or a single address"
            ))
        };
        let (a, p) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let prefix = match p {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => max_prefix(addr),
        };
        Cidr::new(addr, prefix).map_err(|e| InvalidCidr(format!("invalid CIDR `{s}`: {e}")))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Parses one address argument (`10.192.80.5`, `2001:db8::1`) with a clear error.
pub fn parse_ip(s: &str) -> Result<IpAddr, InvalidCidr> {
    s.trim().parse().map_err(|_| {
        InvalidCidr(format!("invalid IP address `{s}`: expected an IPv4 (10.192.80.5) or IPv6 (2001:db8::1) address"))
    })
}

/// Parses an address as written in a flow log; `None` for `-`, empty or anything else that is not one.
#[inline]
pub fn parse_field(s: &str) -> Option<IpAddr> {
    if s.len() < 2 {
        return None;
    }
    if let Some(v4) = parse_v4_fast(s.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    s.parse().ok()
}

/// Dotted-quad parsing without the general parser's bookkeeping: flow logs are mostly IPv4.
#[inline]
fn parse_v4_fast(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, o) in octets.iter_mut().enumerate() {
        let start = i;
        let mut v: u32 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        // Empty, over 255, or a leading zero (not canonical, and ambiguous): let the general parser decide.
        if i == start || v > 255 || (b[start] == b'0' && i - start > 1) {
            return None;
        }
        *o = v as u8;
        if n < 3 {
            if i >= b.len() || b[i] != b'.' {
                return None;
            }
            i += 1;
        }
    }
    (i == b.len()).then(|| Ipv4Addr::from(octets))
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn mask_bits_u32(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) }
}

fn mask_bits_u128(prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask_bits_u32(prefix))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask_bits_u128(prefix))),
    }
}

/// A named family of non-public ranges that `private-cidrs` and `is_private` know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrivateRanges {
    /// RFC 1918: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16.
    Rfc1918,
    /// RFC 4193 unique local IPv6 addresses: fc00::/7.
    Rfc4193,
    /// RFC 6598 shared address space (carrier-grade NAT, some VPC setups): 100.64.0.0/10.
    Rfc6598,
    /// Link-local: 169.254.0.0/16 and fe80::/10.
    LinkLocal,
}

impl PrivateRanges {
    /// What `is_private` means: RFC 1918 and RFC 4193.
    pub const DEFAULT: &'static [PrivateRanges] = &[PrivateRanges::Rfc1918, PrivateRanges::Rfc4193];

    /// The blocks of this family.
    pub fn blocks(self) -> Vec<Cidr> {
        let v: &[&str] = match self {
            PrivateRanges::Rfc1918 => &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
            PrivateRanges::Rfc4193 => &["fc00::/7"],
            PrivateRanges::Rfc6598 => &["100.64.0.0/10"],
            PrivateRanges::LinkLocal => &["169.254.0.0/16", "fe80::/10"],
        };
        v.iter().map(|s| s.parse().expect("valid built-in block")).collect()
    }
}

impl FromStr for PrivateRanges {
    type Err = InvalidCidr;
    fn from_str(s: &str) -> Result<PrivateRanges, InvalidCidr> {
        match s.to_ascii_lowercase().as_str() {
            "rfc1918" => Ok(PrivateRanges::Rfc1918),
            "rfc4193" | "ula" => Ok(PrivateRanges::Rfc4193),
            "rfc6598" | "cgnat" | "shared" => Ok(PrivateRanges::Rfc6598),
            "link-local" => Ok(PrivateRanges::LinkLocal),
            _ => Err(InvalidCidr(format!(
                "unknown range family `{s}`: expected rfc1918, rfc4193, rfc6598 or link-local"
            ))),
        }
    }
}

/// True for RFC 1918 IPv4 and RFC 4193 IPv6 addresses (what `is_private` means).
#[inline]
pub fn is_private(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            o[0] == 10 || (o[0] == 172 && (16..=31).contains(&o[1])) || (o[0] == 192 && o[1] == 168)
        }
        IpAddr::V6(a) => a.segments()[0] & 0xfe00 == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// An address's own block is the longest prefix around it, of either family.
    #[test]
    fn a_host_block_holds_its_address_alone() {
        for (a, bits) in [("10.0.0.5", 32), ("2600:1f18::1", 128)] {
            let h = Cidr::host(ip(a));
            assert_eq!(h, Cidr::new(ip(a), bits).unwrap());
            assert_eq!(h.to_string(), format!("{a}/{bits}"));
            assert!(h.contains(ip(a)));
        }
        assert!(!Cidr::host(ip("10.0.0.5")).contains(ip("10.0.0.4")));
    }

    #[test]
    fn parses_and_contains() {
        let c: Cidr = "10.192.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.192.80.5")));
        assert!(c.contains(ip("10.192.255.255")));
        assert!(!c.contains(ip("10.193.0.0")));
        assert!(!c.contains(ip("::ffff:10.192.0.1")), "an IPv6 address is never in an IPv4 block");
        let odd: Cidr = "172.16.0.0/12".parse().unwrap();
        assert!(odd.contains(ip("172.31.255.1")) && odd.contains(ip("172.16.0.0")) && !odd.contains(ip("172.32.0.0")));
        let host: Cidr = "10.192.80.5/16".parse().unwrap();
        assert_eq!(host.to_string(), "10.192.0.0/16", "host bits are cleared");
        let single: Cidr = "10.192.80.5".parse().unwrap();
        assert_eq!(single.prefix(), 32);
        let v6: Cidr = "2001:DB8:1::/48".parse().unwrap();
        assert_eq!(v6.to_string(), "2001:db8:1::/48");
        assert!(v6.contains(ip("2001:db8:1:ffff::7")) && !v6.contains(ip("2001:db8:2::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("::1")));
    }

    #[test]
    fn refuses_bad_input_clearly() {
        for bad in ["10.192.0.0/33", "10.192.0.0/x", "10.192/16", "fd00::/129", "", "10.0.0.256", "host"] {
            let e = bad.parse::<Cidr>().unwrap_err().0;
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
        assert!(parse_ip("10.0.0.1/8").unwrap_err().0.contains("invalid IP address `10.0.0.1/8`"));
    }

    #[test]
    fn text_prefixes_are_necessary_conditions() {
        let p = |s: &str| s.parse::<Cidr>().unwrap().ipv4_text_prefix();
        assert_eq!(p("10.192.0.0/16").as_deref(), Some("10.192."));
        assert_eq!(p("10.0.0.0/8").as_deref(), Some("10."));
        assert_eq!(p("172.16.0.0/12").as_deref(), Some("172."));
        assert_eq!(p("10.192.80.5/32").as_deref(), Some("10.192.80.5"));
        assert_eq!(p("10.192.80.0/24").as_deref(), Some("10.192.80."));
        assert_eq!(p("0.0.0.0/4"), None);
        assert_eq!(p("fd00::/8"), None);
    }

    #[test]
    fn field_parsing() {
        assert_eq!(parse_field("10.0.0.1"), Some(ip("10.0.0.1")));
        assert_eq!(parse_field("255.255.255.255"), Some(ip("255.255.255.255")));
        assert_eq!(parse_field("2001:db8::1"), Some(ip("2001:db8::1")));
        for none in ["-", "", "10.0.0", "10.0.0.1.", "10.0.0.256", "1.2.3.4x", "x"] {
            assert_eq!(parse_field(none), None, "{none}");
        }
    }

    #[test]
    fn private_ranges() {
        for p in ["10.1.2.3", "172.16.0.1", "172.31.9.9", "192.168.1.1", "fd12:3456::1", "fc00::1"] {
            assert!(is_private(ip(p)), "{p}");
        }
        for p in ["172.15.0.1", "172.32.0.1", "192.169.0.1", "100.64.0.1", "8.8.8.8", "2001:db8::1", "fe80::1"] {
            assert!(!is_private(ip(p)), "{p}");
        }
        let all: Vec<Cidr> = PrivateRanges::DEFAULT.iter().flat_map(|r| r.blocks()).collect();
        for p in ["10.1.2.3", "172.20.0.1", "192.168.3.4", "fdab::1"] {
            assert!(all.iter().any(|c| c.contains(ip(p))), "{p}");
        }
    }
}
