//! Distinct byte strings of a batch, found by hashing each once: the parser's
//! dictionaries ([`crate::parse`]), the enricher's distinct addresses
//! ([`crate::enrich`]) and the dictionaries of the column chunks we write
//! ([`crate::sink`]). The strings stay where their owner keeps them; [`Ids`] holds only
//! their hashes and an open-addressing table of their ids, kept from batch to batch.
//! The hash is FxHash (rustc's), from a random seed per process.

use arrow_array::{Array, StringArray};

/// The multiplier of FxHash (rustc's hash): words are mixed by a rotate, a xor and a
/// multiply, and the table takes the top bits, which the multiply mixes best.
const K: u64 = 0x517c_c1b7_2722_0a95;

/// A random start for the hashes of this process's tables, so that values chosen to fall
/// into one slot (an attacker's IPv6 source addresses, which reach the writer's
/// dictionaries) cannot be computed ahead; nothing written depends on it.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().build_hasher().finish())
}

/// The hash of a string's bytes from `seed` (its length included, so a value and its zero
/// padding differ): the state of an [`FxHasher`], whose top bits the table takes.
#[inline]
fn hash_from(seed: u64, tok: &[u8]) -> u64 {
    let mut h = FxHasher(seed ^ (tok.len() as u64).wrapping_mul(K));
    std::hash::Hasher::write(&mut h, tok);
    h.0
}

/// FxHash as a [`std::hash::Hasher`], for maps looked up per row whose keys come from a
/// table the operator gave (an inventory's VPCs and addresses): std's SipHash guards
/// against keys chosen to collide, which only inserted keys could be, and costs several
/// times more per lookup. The result is rotated so that the low bits, which a hash map
/// indexes by, depend on every input bit.
#[derive(Clone, Copy, Default)]
pub struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.mix(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.mix(u64::from(v));
    }

    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.mix(u64::from(v));
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.mix(u64::from(v));
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.mix(v as u64);
    }
}

/// A `HashMap` hashed with [`FxHasher`].
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// Each row's id among the distinct values of `strings` (`None` for a null), given to
/// `row` in row order: `id_of(row, value)`, except for a row equal to the one before it,
/// which takes that row's id unasked (a sorted column's runs cost no hash).
#[inline]
pub fn row_ids(strings: &StringArray, mut id_of: impl FnMut(usize, &[u8]) -> u32, mut row: impl FnMut(Option<u32>)) {
    let mut last: Option<(&[u8], u32)> = None;
    for r in 0..strings.len() {
        if strings.is_null(r) {
            row(None);
            continue;
        }
        let v = strings.value(r).as_bytes();
        let id = match last {
            Some((lv, id)) if lv == v => id,
            _ => id_of(r, v),
        };
        last = Some((v, id));
        row(Some(id));
    }
}

/// An empty slot of the table.
const EMPTY: u32 = 0;

/// Ids of distinct strings, numbered from 0 in the order they were first seen.
pub struct Ids {
    /// This process's [`seed`].
    seed: u64,
    /// Per id: its string's hash.
    hashes: Vec<u64>,
    /// Open addressing: `EMPTY`, or an id plus one. Its length is a power of two, at
    /// least twice the number of ids.
    slots: Vec<u32>,
    /// 64 minus the bits of a slot's index.
    shift: u32,
}

impl Default for Ids {
    fn default() -> Ids {
        Ids { seed: seed(), hashes: Vec::new(), slots: vec![EMPTY; 256], shift: 64 - 8 }
    }
}

impl Ids {
    /// The id of `tok`, the string with its hash for which `same(id)` holds, and `false`;
    /// else the next id, now `tok`'s, and `true` (the caller keeps the string).
    #[inline]
    pub fn find_or_add(&mut self, tok: &[u8], same: impl Fn(u32) -> bool) -> (u32, bool) {
        self.find_or_add_hashed(hash_from(self.seed, tok), same)
    }

    /// As [`find_or_add`](Ids::find_or_add), for a string hashing to `h`.
    #[inline]
    fn find_or_add_hashed(&mut self, h: u64, same: impl Fn(u32) -> bool) -> (u32, bool) {
        if 2 * (self.hashes.len() + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = (h >> self.shift) as usize;
        loop {
            match self.slots[at] {
                EMPTY => {
                    let id = self.hashes.len() as u32;
                    self.hashes.push(h);
                    self.slots[at] = id + 1;
                    return (id, true);
                }
                s => {
                    let id = s - 1;
                    if self.hashes[id as usize] == h && same(id) {
                        return (id, false);
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Bytes the table holds.
    pub fn memory_size(&self) -> usize {
        self.hashes.capacity() * 8 + self.slots.capacity() * 4
    }

    /// Forgets every string (the table keeps its size).
    pub fn clear(&mut self) {
        self.hashes.clear();
        self.slots.fill(EMPTY);
    }

    /// Twice the slots, every id placed again by its hash.
    fn grow(&mut self) {
        let len = self.slots.len() * 2;
        self.shift -= 1;
        self.slots.clear();
        self.slots.resize(len, EMPTY);
        let mask = len - 1;
        for (id, &h) in self.hashes.iter().enumerate() {
            let mut at = (h >> self.shift) as usize;
            while self.slots[at] != EMPTY {
                at = (at + 1) & mask;
            }
            self.slots[at] = id as u32 + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings that collide in the table's slots, grow it several times, and repeat:
    /// each gets one id, in the order first seen, and equal hashes of different strings
    /// stay apart.
    #[test]
    fn each_distinct_string_gets_one_id_in_order() {
        let mut ids = Ids::default();
        let strings: Vec<String> = (0..5000).map(|i| format!("10.0.{}.{}", i % 97, i % 31)).collect();
        let mut kept: Vec<&str> = Vec::new();
        let mut got = Vec::new();
        for s in &strings {
            let (id, new) = ids.find_or_add(s.as_bytes(), |id| kept[id as usize] == s);
            if new {
                assert_eq!(id as usize, kept.len());
                kept.push(s);
            }
            got.push(id);
        }
        let mut distinct = strings.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(kept.len(), distinct.len());
        assert!(strings.iter().zip(&got).all(|(s, &id)| kept[id as usize] == s));
        // One hash for two strings: `same` tells them apart.
        let mut ids = Ids::default();
        assert_eq!(ids.find_or_add_hashed(7, |_| false), (0, true));
        assert_eq!(ids.find_or_add_hashed(7, |id| id == 0), (0, false));
        assert_eq!(ids.find_or_add_hashed(7, |_| false), (1, true));
        ids.clear();
        assert_eq!(ids.find_or_add_hashed(7, |_| true), (0, true));
        assert_ne!(hash_from(ids.seed, b"a"), hash_from(ids.seed, b"a\0"));
        assert_eq!(ids.seed, Ids::default().seed, "one seed per process");
    }

    /// A map of (VPC, address) keys, as the inventory's, finds each key and no other.
    #[test]
    fn fx_hash_maps_find_every_key() {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let mut m: FxHashMap<(u32, IpAddr), u32> = FxHashMap::default();
        for i in 0..20_000u32 {
            let v4 = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            let v6 = IpAddr::V6(Ipv6Addr::from(0xfd12_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(i)));
            m.insert((i % 7, v4), i);
            m.insert((i % 7, v6), i + 1_000_000);
        }
        assert_eq!(m.len(), 40_000);
        for i in (0..20_000u32).step_by(97) {
            assert_eq!(m.get(&(i % 7, IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))), Some(&i));
            assert_eq!(m.get(&((i + 1) % 7, IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))), None);
        }
    }
}
