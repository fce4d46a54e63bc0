//! Longest-prefix lookup over IPv4 and IPv6 blocks, built once per run and shared by
//! the worker threads. CIDR blocks either nest or are disjoint, so they flatten into
//! sorted, disjoint ranges, each holding the value of the most specific block over it:
//! a lookup is one binary search, whatever the number of blocks.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::ip::Cidr;

/// An address of one family, as a number.
trait Key: Copy + Ord {
    /// The next address, if there is one.
    fn succ(self) -> Option<Self>;
}

impl Key for u32 {
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
}

impl Key for u128 {
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
}

/// One family's blocks as change points: from `starts[i]` up to the next start,
/// addresses take `values[i]` (`None`: in no block).
#[derive(Clone, Debug)]
struct Ranges<K> {
    starts: Vec<K>,
    values: Vec<Option<u32>>,
}

impl<K: Key> Ranges<K> {
    /// From blocks given as (first address, last address, prefix length, value), no two
    /// with the same first address and length.
    fn build(mut blocks: Vec<(K, K, u8, u32)>) -> Ranges<K> {
        // Outer blocks before the blocks they hold: by first address, then shorter prefix.
        blocks.sort_unstable_by_key(|&(first, _, len, _)| (first, len));
        let mut r =
            Ranges { starts: Vec::with_capacity(blocks.len() * 2), values: Vec::with_capacity(blocks.len() * 2) };
        // The blocks around the current address, outermost first: (last address, value).
        let mut open: Vec<(K, u32)> = Vec::new();
        for (first, last, _, value) in blocks {
            r.close_before(&mut open, Some(first));
            r.point(first, Some(value));
            open.push((last, value));
        }
        r.close_before(&mut open, None);
        r
    }

    /// Closes the open blocks that end before `next` (all of them for `None`); after
    /// each, the block around it (if any) applies again.
    fn close_before(&mut self, open: &mut Vec<(K, u32)>, next: Option<K>) {
        while let Some(&(last, _)) = open.last() {
            if next.is_some_and(|n| n <= last) {
                break;
            }
            open.pop();
            if let Some(after) = last.succ() {
                self.point(after, open.last().map(|o| o.1));
            }
        }
    }

    /// From `at` on, `value` applies (a point at the same address is replaced; one that
    /// changes nothing is not kept).
    fn point(&mut self, at: K, value: Option<u32>) {
        if self.starts.last() == Some(&at) {
            self.starts.pop();
            self.values.pop();
        }
        let before = self.values.last().copied().unwrap_or(None);
        if before != value {
            self.starts.push(at);
            self.values.push(value);
        }
    }

    fn get(&self, k: K) -> Option<u32> {
        match self.starts.partition_point(|s| *s <= k) {
            0 => None,
            i => self.values[i - 1],
        }
    }
}

impl<V> Default for PrefixMap<V> {
    /// The map of no block.
    fn default() -> PrefixMap<V> {
        PrefixMap {
            v4: Ranges { starts: Vec::new(), values: Vec::new() },
            v6: Ranges { starts: Vec::new(), values: Vec::new() },
            values: Vec::new(),
        }
    }
}

/// Values by address: the value of the most specific block that holds it.
#[derive(Clone, Debug)]
pub struct PrefixMap<V> {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    values: Vec<V>,
}

/// Both families' ranges of blocks given once each, with their value ids.
fn ranges(blocks: impl IntoIterator<Item = (Cidr, u32)>) -> (Ranges<u32>, Ranges<u128>) {
    let (mut b4, mut b6) = (Vec::new(), Vec::new());
    for (block, i) in blocks {
        let len = block.prefix();
        match block.network() {
            IpAddr::V4(n) => {
                let first = u32::from(n);
                let last = first | u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
                b4.push((first, last, len, i));
            }
            IpAddr::V6(n) => {
                let first = u128::from(n);
                let last = first | u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
                b6.push((first, last, len, i));
            }
        }
    }
    (Ranges::build(b4), Ranges::build(b6))
}

impl PrefixMap<u32> {
    /// A map of blocks to ids (`0..ids`) that the caller knows are each given once (a
    /// MaxMind DB's tree holds each network once). Neighbouring ranges of one id become
    /// one, so a million networks of two hundred countries take little room.
    pub fn from_ids(blocks: impl IntoIterator<Item = (Cidr, u32)>, ids: u32) -> PrefixMap<u32> {
        let (v4, v6) = ranges(blocks);
        PrefixMap { v4, v6, values: (0..ids).collect() }
    }

    /// The ranges left after neighbours of one value merged (both families).
    pub fn ranges(&self) -> usize {
        self.v4.starts.len() + self.v6.starts.len()
    }
}

impl<V> PrefixMap<V> {
    /// A map of `blocks`. Where a block is given more than once, `merge(kept, later)`
    /// makes its one value of the two.
    pub fn build(blocks: impl IntoIterator<Item = (Cidr, V)>, merge: impl Fn(&mut V, V)) -> PrefixMap<V> {
        let mut values: Vec<V> = Vec::new();
        let mut index: HashMap<Cidr, usize> = HashMap::new();
        for (block, v) in blocks {
            match index.get(&block) {
                Some(&i) => merge(&mut values[i], v),
                None => {
                    index.insert(block, values.len());
                    values.push(v);
                }
            }
        }
        let (v4, v6) = ranges(index.into_iter().map(|(block, i)| (block, i as u32)));
        PrefixMap { v4, v6, values }
    }

    /// The value of the most specific block holding `addr`, if any holds it.
    #[inline]
    pub fn get(&self, addr: IpAddr) -> Option<&V> {
        let i = match addr {
            IpAddr::V4(a) => self.v4.get(u32::from(a)),
            IpAddr::V6(a) => self.v6.get(u128::from(a)),
        }?;
        Some(&self.values[i as usize])
    }

    /// The distinct blocks given.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no block was given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_neighbouring_blocks_merge() {
        let c = |s: &str| s.parse::<Cidr>().unwrap();
        let m = PrefixMap::from_ids(
            [(c("10.0.0.0/25"), 1), (c("10.0.0.128/25"), 1), (c("10.0.1.0/24"), 0), (c("10.0.0.64/26"), 0)],
            2,
        );
        let at = |a: &str| m.get(a.parse().unwrap()).copied();
        assert_eq!(
            [at("10.0.0.1"), at("10.0.0.70"), at("10.0.0.200"), at("10.0.1.9"), at("10.0.2.0")],
            [Some(1), Some(0), Some(1), Some(0), None]
        );
        // 10.0.0.0 (1), .64 (0), .128 (1), 1.0 (0), 2.0 (none).
        assert_eq!(m.ranges(), 5);
    }

    fn map(blocks: &[(&str, &str)]) -> PrefixMap<String> {
        PrefixMap::build(blocks.iter().map(|(c, v)| (c.parse().unwrap(), v.to_string())), |_, _| {})
    }

    fn get<'a>(m: &'a PrefixMap<String>, a: &str) -> Option<&'a str> {
        m.get(a.parse().unwrap()).map(String::as_str)
    }

    #[test]
    fn the_most_specific_block_wins_in_both_families() {
        let m = map(&[
            ("10.0.0.0/8", "ten"),
            ("10.1.0.0/16", "ten-one"),
            ("10.1.2.0/24", "ten-one-two"),
            ("10.1.0.0/24", "ten-one-zero"),
            ("10.255.255.255/32", "last"),
            ("0.0.0.0/0", "all"),
            ("2600:1f18::/32", "v6"),
            ("2600:1f18:4000::/36", "v6-inner"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120", "v6-top"),
        ]);
        assert_eq!(m.len(), 9);
        for (a, want) in [
            ("10.1.2.3", Some("ten-one-two")),
            ("10.1.0.9", Some("ten-one-zero")),
            ("10.1.1.0", Some("ten-one")),
            ("10.1.3.0", Some("ten-one")),
            ("10.2.0.0", Some("ten")),
            ("10.255.255.254", Some("ten")),
            ("10.255.255.255", Some("last")),
            ("11.0.0.0", Some("all")),
            ("255.255.255.255", Some("all")),
            ("0.0.0.0", Some("all")),
            ("2600:1f18::1", Some("v6")),
            ("2600:1f18:4fff::1", Some("v6-inner")),
            ("2600:1f18:5000::", Some("v6")),
            ("2600:1f19::", None),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("v6-top")),
            ("::1", None),
        ] {
            assert_eq!(get(&m, a), want, "{a}");
        }
        assert!(map(&[]).get("10.0.0.1".parse().unwrap()).is_none());
    }

    #[test]
    fn a_block_given_twice_keeps_the_value_its_rule_prefers() {
        let blocks = [("3.5.0.0/19", "EC2"), ("3.5.0.0/19", "ROUTE53_HEALTHCHECKS"), ("3.5.0.0/19", "AMAZON")];
        let m = PrefixMap::build(blocks.iter().map(|(c, v)| (c.parse().unwrap(), v.to_string())), |kept, later| {
            if later.as_str() != "AMAZON" && kept.as_str() == "EC2" {
                *kept = later;
            }
        });
        assert_eq!((m.len(), get(&m, "3.5.1.1")), (1, Some("ROUTE53_HEALTHCHECKS")));
    }

    /// Random nested and disjoint blocks: every lookup equals the longest block found by
    /// trying each.
    #[test]
    fn lookups_equal_trying_every_block() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut blocks: Vec<(Cidr, u32)> = Vec::new();
        for i in 0..2000u32 {
            let addr = std::net::Ipv4Addr::from(0x0a00_0000 | (next() as u32 & 0x00ff_ffff));
            let len = 8 + (next() % 25) as u8;
            blocks.push((Cidr::new(IpAddr::V4(addr), len).unwrap(), i));
        }
        let m = PrefixMap::build(blocks.clone(), |_, _| {});
        // A block given twice keeps its first value (the merge above keeps it).
        let mut first: Vec<(Cidr, u32)> = Vec::new();
        for (c, v) in blocks {
            if !first.iter().any(|(d, _)| *d == c) {
                first.push((c, v));
            }
        }
        assert_eq!(m.len(), first.len());
        for _ in 0..20_000 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 | (next() as u32 & 0x00ff_ffff)));
            let best = first.iter().filter(|(c, _)| c.contains(a)).max_by_key(|(c, _)| c.prefix()).map(|(_, v)| *v);
            assert_eq!(m.get(a).copied(), best, "{a}");
        }
    }
}
