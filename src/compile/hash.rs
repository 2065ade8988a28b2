//! A fast keyed hasher for the compiler's maps and the feed parsers' duplicate check.
//!
//! The compiler hashes millions of small keys (prefixes, attribute ids, tuples), and a
//! feed's duplicate check one prefix per line, where std's SipHash dominates the time. This
//! hasher folds each integer written into a 64-bit state through the SplitMix64 finalizer,
//! starting from a per-map random key taken from std's `RandomState`, so that a feed is not
//! known to be craftable offline to collide (a heuristic, not a keyed PRF like SipHash).
//! Output never depends on it: the maps and sets are only looked up, never iterated.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use super::scratch::Words;

/// Builds [`KeyedHasher`]s sharing one random key.
#[derive(Debug, Clone)]
pub(crate) struct Keyed(u64);

impl Default for Keyed {
    fn default() -> Keyed {
        Keyed(RandomState::new().hash_one(0x6332_7472_6965u64))
    }
}

impl BuildHasher for Keyed {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher(self.0)
    }
}

/// The SplitMix64 finalizer.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Debug, Clone)]
pub(crate) struct KeyedHasher(u64);

impl Hasher for KeyedHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        if let Some(dst) = w.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        // The length keeps "ab" + "" apart from "a" + "b".
        self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = mix(self.0.rotate_left(23) ^ i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// A `HashMap` with the keyed hasher.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, Keyed>;

/// A key's first slot in a table of `mask + 1` slots, under the hash key `hasher`.
#[inline(always)]
fn home(hasher: u64, key: u64, mask: usize) -> usize {
    (mix(hasher ^ key) as usize) & mask
}

/// An insert-only set of `u64` keys below `u64::MAX`: open addressing with linear probing,
/// keys stored plus one so that 0 marks an empty slot, at most half full.
///
/// This is the compiler's duplicate check for IPv4 entries, one insert per entry added, at
/// a random place in a table of 16 MB for a million entries. An insert reads its key's
/// slot and, at most half full, about one more on average, nearly always in the same
/// cache line (a `HashSet` reads a control byte, then the slot); the table is a [`Words`],
/// which from 4 MiB on Linux asks for huge pages, so where the kernel grants them the read
/// misses the cache but not the TLB; and growing reinserts the keys in bulk with the next
/// keys' slots already asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    /// A power of two long (or empty); slot `i` holds key + 1, or 0.
    slots: Words,
    len: usize,
    hasher: Keyed,
}

impl KeySet {
    /// How many keys ahead growing asks for the slots it will fill.
    const PREFETCH: usize = 16;

    /// Adds `key` (below `u64::MAX`); `false` if it was already there.
    #[inline]
    pub(crate) fn insert(&mut self, key: u64) -> bool {
        debug_assert!(key < u64::MAX);
        let stored = key.wrapping_add(1);
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let hasher = self.hasher.0;
        let slots = self.slots.as_mut_slice();
        let mask = slots.len().wrapping_sub(1);
        let mut i = home(hasher, key, mask);
        // At most half full: an empty slot is always found.
        while let Some(s) = slots.get_mut(i) {
            if *s == stored {
                return false;
            }
            if *s == 0 {
                *s = stored;
                self.len += 1;
                return true;
            }
            i = (i + 1) & mask;
        }
        false
    }

    /// Doubles the table and places every key again.
    #[cold]
    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, Words::zeroed(cap));
        let keys: Vec<u64> = old.as_slice().iter().copied().filter(|&s| s != 0).collect();
        drop(old);
        let hasher = self.hasher.0;
        let slots = self.slots.as_mut_slice();
        let mask = slots.len().wrapping_sub(1);
        for (at, &stored) in keys.iter().enumerate() {
            if let Some(&ahead) = keys.get(at + Self::PREFETCH)
                && let Some(s) = slots.get(home(hasher, ahead.wrapping_sub(1), mask))
            {
                crate::prefetch::prefetch(s);
            }
            let mut i = home(hasher, stored.wrapping_sub(1), mask);
            // The keys are distinct: the first empty slot is the key's.
            while let Some(s) = slots.get_mut(i) {
                if *s == 0 {
                    *s = stored;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }

    /// The number of keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::{KeySet, Keyed};

    #[test]
    fn distinguishes_nearby_keys_and_split_strings() {
        let k = Keyed::default();
        let a = k.hash_one((1u128, 24u8));
        assert_ne!(a, k.hash_one((1u128, 25u8)));
        assert_ne!(a, k.hash_one((2u128, 24u8)));
        assert_ne!(k.hash_one(("ab", "")), k.hash_one(("a", "b")));
        // Two builders have different keys (with overwhelming probability).
        assert_ne!(a, Keyed::default().hash_one((1u128, 24u8)));
    }

    #[test]
    fn key_set_keeps_each_key_once_across_growth() {
        let mut set = KeySet::default();
        let mut oracle = std::collections::HashSet::new();
        // Keys 0 and u64::MAX - 1 included, with repeats, across several doublings.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = match i % 5 {
                0 => 0,
                1 => u64::MAX - 1,
                2 => x % 1000,
                _ => x % (u64::MAX - 1),
            };
            assert_eq!(set.insert(key), oracle.insert(key), "key {key}");
        }
        assert_eq!(set.len(), oracle.len());
        for &key in &oracle {
            assert!(!set.insert(key), "key {key} lost");
        }
    }
}
