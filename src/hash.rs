//! Distinct byte strings of a batch, found by hashing each once: the parser's
//! dictionaries ([`crate::parse`]), the enricher's distinct addresses
//! ([`crate::enrich`]) and the dictionaries of the column chunks we write ([`crate::sink`]). The strings stay where their owner keeps them; [`Ids`] holds
//! only their hashes and an open-addressing table of their ids, kept from batch to batch.

/// The multiplier of FxHash (rustc's hash): words are mixed by a rotate, a xor and a
/// multiply, and the table takes the top bits, which the multiply mixes best.
const K: u64 = 0x517c_c1b7_2722_0a95;

/// The hash of a string's bytes (its length included, so a value and its zero padding differ).
#[inline]
pub fn hash(tok: &[u8]) -> u64 {
    let mut h = (tok.len() as u64).wrapping_mul(K);
    let mut words = tok.chunks_exact(8);
    for w in &mut words {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    h
}

/// An empty slot of the table.
const EMPTY: u32 = 0;

/// Ids of distinct strings, numbered from 0 in the order they were first seen.
pub struct Ids {
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
        Ids { hashes: Vec::new(), slots: vec![EMPTY; 256], shift: 64 - 8 }
    }
}

impl Ids {
    /// Distinct strings so far.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True before the first string.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The id of the string hashing to `h` (by [`hash`]) for which `same(id)` holds, and
    /// `false`; else the next id, now the string's, and `true` (the caller keeps the string).
    #[inline]
    pub fn find_or_add(&mut self, h: u64, same: impl Fn(u32) -> bool) -> (u32, bool) {
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
            let (id, new) = ids.find_or_add(hash(s.as_bytes()), |id| kept[id as usize] == s);
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
        assert_eq!(ids.find_or_add(7, |_| false), (0, true));
        assert_eq!(ids.find_or_add(7, |id| id == 0), (0, false));
        assert_eq!(ids.find_or_add(7, |_| false), (1, true));
        ids.clear();
        assert!(ids.is_empty());
        assert_eq!(ids.find_or_add(7, |_| true), (0, true));
        assert_ne!(hash(b"a"), hash(b"a\0"));
    }
}
