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

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::Keyed;

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
}
