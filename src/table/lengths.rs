//! Prefixes by length: a hash table per distinct IPv6 prefix length, built at load.
//!
//! An IPv6 abuse list is hosts plus prefixes of a few lengths (/32 allocations, /48 sites,
//! /64 subnets). In the trie a hit walks a node per six bits below the direct table (under
//! the 18-bit direct table of a 100k-entry list, five for a /48 and three for a /32; up to
//! eight under a small one), each a likely cache miss in a large table. When a table's IPv6
//! prefixes have at most [`MAX_LENGTHS`] distinct lengths, none longer than /64, it also
//! gets this index: for each length, a hash table from the prefix's top bits to its
//! answer (see `answers`). A lookup probes the lengths' tables longest first and stops at
//! the first that holds the address's bits: its longest match. The probes do not depend
//! on each other's loads, so where the branch predicts "on to the next" their cache misses
//! overlap. A probe reads one 64-byte line, and a second
//! only where the first records that a prefix whose first line it is lies in its second:
//! a line holds up to [`SLOTS`] prefixes, at most half the slots are filled, and prefixes
//! are placed in their first line where it has room (cuckoo placement, two lines each).
//! The lines a key may lie in come from a hash salted at random at each load, so a list
//! cannot be chosen to defeat placement; a placement that still fails is retried with a
//! new salt, and after [`ATTEMPTS`] the table keeps the trie alone.
//!
//! Hosts are still answered by their host tuple first, and an address whose summary block
//! holds no prefix stops at the summary, as in the trie lookup. A batch prefetches every
//! key's first lines, for all lengths, before it probes the first key.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::hint::select_unpredictable;

use super::answers::{ABSENT, prefix_answers};
use crate::format::validate::Layout;
use crate::format::{Family, RawTuple, V6, mix64};

/// The most distinct prefix lengths: each is a probe for a lookup that reaches the index
/// and matches no longer one.
pub(crate) const MAX_LENGTHS: usize = 4;

/// The most IPv6 prefix entries for the index to be built (about 26 bytes each).
pub(crate) const MAX_ENTRIES: usize = 1 << 18;

/// Prefixes a line holds.
pub(crate) const SLOTS: usize = 5;

/// The most moves one placement may make before the salt is given up.
const MAX_KICKS: usize = 512;

/// Salts tried per length before the index is given up.
const ATTEMPTS: usize = 4;

/// One cache line of a length's table: up to [`SLOTS`] prefixes (their top 64 bits,
/// masked to the length) with their answers' tuple indices plus one (0 marks an empty
/// slot, whose key, once the table is built, is one no prefix of the length has), and
/// whether a prefix whose first line this is lies in its second.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line {
    keys: [u64; SLOTS],
    values: [u32; SLOTS],
    overflow: u32,
}

impl Line {
    const EMPTY: Line = Line {
        keys: [0; SLOTS],
        values: [0; SLOTS],
        overflow: 0,
    };

    /// The value of `key`'s filled slot, or 0. A key fills at most one slot of the index,
    /// and empty slots hold a key no prefix has (their value is 0 if `key` is that one), so
    /// the slot whose key equals `key` gives the answer: a conditional move per slot, no
    /// branch. (Masking each value by the comparison and OR-ing them took three times the
    /// instructions; without SIMD compares, the x86-64 baseline ran prefix hits 20 % slower.)
    #[inline(always)]
    fn get(&self, key: u64) -> u32 {
        let mut found = 0;
        for (k, v) in self.keys.iter().zip(self.values) {
            found = select_unpredictable(*k == key, v, found);
        }
        found
    }

    /// Puts `key` with `value` (not 0) in a free slot; false when the line is full.
    fn put(&mut self, key: u64, value: u32) -> bool {
        let free = self.values.iter().position(|v| *v == 0);
        match free.and_then(|i| Some((self.keys.get_mut(i)?, self.values.get_mut(i)?))) {
            Some((k, v)) => {
                (*k, *v) = (key, value);
                true
            }
            None => false,
        }
    }
}

/// One prefix length's table.
struct ByLength {
    /// The length's mask over an address's top 64 bits.
    mask: u64,
    /// Mixed into the hash: random at each load, so that no list can be chosen to make
    /// placement fail.
    salt: u64,
    lines: Box<[Line]>,
}

impl ByLength {
    /// The two lines `key` may lie in.
    #[inline(always)]
    fn lines_of(&self, key: u64) -> (usize, usize) {
        let h = mix64(key ^ self.salt);
        let n = self.lines.len() as u64;
        // Both products are below 2^32 * n: they do not wrap.
        (
            ((h & 0xffff_ffff).wrapping_mul(n) >> 32) as usize,
            ((h >> 32).wrapping_mul(n) >> 32) as usize,
        )
    }

    /// Places `key` by cuckoo displacement: in its first line if it has room, else its
    /// second (marking the first), else it takes a slot there and the prefix it displaces
    /// moves on. Each move spends one of `budget`; `None` when a placement does not end
    /// within [`MAX_KICKS`] moves or the budget runs out, so that keys chosen to collide
    /// cost a bounded time at load.
    fn insert(&mut self, key: u64, value: u32, budget: &mut usize) -> Option<()> {
        let (mut key, mut value) = (key, value);
        for kick in 0..MAX_KICKS {
            *budget = budget.checked_sub(1)?;
            let (b1, b2) = self.lines_of(key);
            let first = self.lines.get_mut(b1)?;
            if first.put(key, value) {
                return Some(());
            }
            // From here on `key` may lie in its second line: a probe must read it.
            first.overflow = 1;
            let second = self.lines.get_mut(b2)?;
            if second.put(key, value) {
                return Some(());
            }
            // Both full: take a slot of one of them, in turn, and place what was there.
            let line = self.lines.get_mut(if kick % 2 == 0 { b2 } else { b1 })?;
            let slot = kick % SLOTS;
            std::mem::swap(&mut key, line.keys.get_mut(slot)?);
            std::mem::swap(&mut value, line.values.get_mut(slot)?);
        }
        None
    }

    /// The tuple index plus one stored for the prefix of this length holding `top` (an
    /// address's top 64 bits), or 0.
    #[inline(always)]
    fn get(&self, top: u64) -> u32 {
        let key = top & self.mask;
        let (b1, b2) = self.lines_of(key);
        let Some(first) = self.lines.get(b1) else {
            return 0;
        };
        let found = first.get(key);
        if found == 0 && first.overflow != 0 {
            return self.lines.get(b2).map_or(0, |l| l.get(key));
        }
        found
    }
}

/// The index: one table per prefix length, longest first.
pub(crate) struct Lengths {
    by_length: Box<[ByLength]>,
}

impl std::fmt::Debug for Lengths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lengths")
            .field("lengths", &self.by_length.len())
            .finish_non_exhaustive()
    }
}

impl Lengths {
    /// The index for `layout`'s IPv6 prefixes, or `None` when the table has none, more than
    /// [`MAX_ENTRIES`], one longer than /64, more than [`MAX_LENGTHS`] distinct lengths,
    /// more IPv6 tuples than distinct prefixes plus one (see `answers`), or prefixes that
    /// cuckoo placement cannot fit with any of [`ATTEMPTS`] random salts (for distinct
    /// keys at half load, practically never).
    pub(crate) fn build(layout: &Layout<'_>) -> Option<Lengths> {
        let entries = layout.v6.entries;
        // The cheap refusals first, before anything is allocated.
        if entries.is_empty() || entries.len() > MAX_ENTRIES {
            return None;
        }
        let mut present = 0u128;
        for e in entries {
            let len = V6::entry_len(e);
            if len > 64 {
                return None;
            }
            present |= 1u128.checked_shl(u32::from(len)).unwrap_or(0);
        }
        if present.count_ones() as usize > MAX_LENGTHS {
            return None;
        }
        let prefixes = prefix_answers(layout)?;
        let mut random = RandomState::new();
        let mut by_length = Vec::new();
        // Longest first: the first table that holds the address's bits is its longest match.
        for len in (0..=64u32).rev().filter(|l| present >> l & 1 != 0) {
            // A prefix whose answer is absent is covered entirely by longer ones: no
            // address answers with it, so it is left out.
            let own = || {
                prefixes
                    .iter()
                    .filter(move |p| u32::from(p.1) == len && p.2 != ABSENT)
            };
            let count = own().count();
            // At most half of the slots filled.
            let n = count.saturating_mul(2).div_ceil(SLOTS).max(1);
            let mut placed = None;
            for _ in 0..ATTEMPTS {
                let mut t = ByLength {
                    mask: u64::MAX.checked_shl(64u32.saturating_sub(len)).unwrap_or(0),
                    salt: random.hash_one(len),
                    lines: vec![Line::EMPTY; n].into_boxed_slice(),
                };
                // A placement spends one, and one more per move; random keys at half load
                // rarely move any.
                let mut budget = count.saturating_mul(4).saturating_add(MAX_KICKS);
                // Tuple indices are below 2^31 (a tuple is 12 bytes of a table below
                // 4 GiB), so the stored value, the index plus one, does not wrap.
                if own().all(|&(addr, _, tuple)| {
                    tuple
                        .checked_add(1)
                        .is_some_and(|v| t.insert((addr >> 64) as u64, v, &mut budget).is_some())
                }) {
                    placed = Some(t);
                    break;
                }
                random = RandomState::new();
            }
            let mut t = placed?;
            // Empty slots get a key no prefix of this length has: a random one (a list
            // cannot hold it but by chance, 2^18 keys in 2^64), checked against the slots.
            let mut empty_key = None;
            for _ in 0..ATTEMPTS {
                let k = random.hash_one((len, "empty"));
                if !t.lines.iter().any(|l| l.keys.contains(&k)) {
                    empty_key = Some(k);
                    break;
                }
                random = RandomState::new();
            }
            let empty_key = empty_key?;
            for l in &mut t.lines {
                for (k, v) in l.keys.iter_mut().zip(l.values) {
                    if v == 0 {
                        *k = empty_key;
                    }
                }
            }
            by_length.push(t);
        }
        Some(Lengths {
            by_length: by_length.into_boxed_slice(),
        })
    }

    /// Starts loading the first line `key` may lie in, for every length: a batch issues
    /// these for all its keys before probing any.
    #[inline(always)]
    pub(crate) fn prefetch(&self, key: u128) {
        let top = (key >> 64) as u64;
        for t in &self.by_length {
            let (b1, _) = t.lines_of(top & t.mask);
            if let Some(l) = t.lines.get(b1) {
                crate::prefetch::prefetch(l);
            }
        }
    }

    /// The tuple for `key` among `tuples` (the IPv6 tuples of the table the index was built
    /// from): its longest prefix's answer, or none. Never panics, never allocates.
    #[inline(always)]
    pub(crate) fn find<'a>(&self, tuples: &'a [RawTuple], key: u128) -> &'a RawTuple {
        let top = (key >> 64) as u64;
        let mut best = 0;
        // Longest first, up to the first that holds the address. (Probing every length and
        // keeping the first found, without a branch, was slower on every length: the
        // branch is predicted and the next probe's load starts early all the same.)
        for t in &self.by_length {
            best = t.get(top);
            if best != 0 {
                break;
            }
        }
        // 0 (none found) wraps to an index no table has.
        tuples
            .get(best.wrapping_sub(1) as usize)
            .unwrap_or(&super::NO_TUPLE)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use crate::format::{mix64, unmix64 as unmix};
    use crate::table::tests::table;
    use crate::{List, Table};

    /// Every address's answer through the index equals the trie's (the list fits it).
    fn agrees_with_trie(t: &Table) {
        let lengths = t.v6_lengths.as_ref().unwrap();
        crate::table::tests::agrees_with_trie(t, None, Some(lengths), None, 32);
    }

    /// An abuse list's shape: /32s, /48s and /64s nested across lists, and hosts.
    fn abuse_list(n: u64) -> Vec<(List, String)> {
        let mut entries = Vec::new();
        for i in 0..n {
            let r = mix64(i);
            let list = List::ALL[(r % 3) as usize];
            let top = [0x2001_0db8u32, 0x2a0e_1c80, (r >> 32) as u32][(r >> 8) as usize % 3];
            let (a, b, c) = ((r >> 16) as u16 % 8, (r >> 24) as u16, (r >> 40) as u16);
            let (hi, lo) = (top >> 16, top & 0xffff);
            entries.push(match i % 6 {
                0 => (list, format!("{hi:x}:{lo:x}::/32")),
                1 | 2 => (list, format!("{hi:x}:{lo:x}:{a:x}::/48")),
                3 | 4 => (list, format!("{hi:x}:{lo:x}:{a:x}:{b:x}::/64")),
                _ => (list, format!("{hi:x}:{lo:x}:{a:x}:{b:x}::{c:x}/128")),
            });
        }
        entries
    }

    #[test]
    fn few_length_lists_get_an_index_that_agrees_with_the_trie() {
        let t = table(&abuse_list(3000));
        assert!(t.v6_groups.is_none());
        let lengths = t.v6_lengths.as_ref().unwrap();
        assert_eq!(lengths.by_length.len(), 3);
        // Some prefix lies in its second line, so probes read second lines too.
        assert!(
            lengths
                .by_length
                .iter()
                .any(|b| b.lines.iter().any(|l| l.overflow != 0))
        );
        agrees_with_trie(&t);
        // /0 (a zero mask) and /64 (a full one) beside hosts.
        let mut entries = abuse_list(200);
        entries.push((List::Approved, "::/0".to_owned()));
        let t = table(&entries);
        assert_eq!(t.v6_lengths.as_ref().unwrap().by_length.len(), 4);
        agrees_with_trie(&t);
    }

    #[test]
    fn lists_that_do_not_fit_keep_the_trie() {
        let mut entries = abuse_list(300);
        // A fifth length.
        entries.push((List::Global, "2001:db8::/40".to_owned()));
        entries.push((List::Global, "2001:db8::/20".to_owned()));
        assert!(table(&entries).v6_lengths.is_none());
        // A prefix longer than /64.
        let mut entries = abuse_list(300);
        entries.push((List::Global, "2001:db8::/96".to_owned()));
        assert!(table(&entries).v6_lengths.is_none());
        // A short list of /48 or shorter gets the prefix groups instead.
        let t = table(&[(List::Global, "2001:db8::/32".to_owned())]);
        assert!(t.v6_groups.is_some() && t.v6_lengths.is_none());
        // No IPv6 prefix at all: hosts only.
        let t = table(&[(List::Global, "2001:db8::1/128".to_owned())]);
        assert!(t.v6_lengths.is_none());
    }

    /// Eleven /64s whose keys all hash to the first line, under a salt fixed in advance,
    /// for any table size: with that salt their placement would fail and the table lose
    /// the index. The salt is drawn at each load, so the list gets it all the same.
    #[test]
    fn a_list_chosen_to_collide_still_gets_the_index() {
        let fixed = mix64(64u64.wrapping_add(0x9e37_79b9_7f4a_7c15));
        let mut entries = Vec::new();
        for i in 0..11u64 {
            assert_eq!(mix64(unmix(i | i << 32)), i | i << 32);
            let key = unmix(i | i << 32) ^ fixed;
            let net = ipnet::Ipv6Net::new(Ipv6Addr::from(u128::from(key) << 64), 64).unwrap();
            entries.push((List::Global, net.to_string()));
        }
        let mut t = super::ByLength {
            mask: u64::MAX,
            salt: fixed,
            lines: vec![super::Line::EMPTY; 8].into_boxed_slice(),
        };
        let mut budget = usize::MAX;
        let all_placed = (0..11u64).all(|i| {
            t.insert(unmix(i | i << 32) ^ fixed, 1, &mut budget)
                .is_some()
        });
        assert!(!all_placed);
        let t = table(&entries);
        assert!(t.v6_lengths.is_some());
        agrees_with_trie(&t);
    }

    /// Keys that all want the same two lines: cuckoo placement gives up within its bound,
    /// and the build reports it (the table then keeps the trie).
    #[test]
    fn placement_that_cannot_end_is_refused() {
        let mut t = super::ByLength {
            mask: u64::MAX,
            salt: 0,
            lines: vec![super::Line::EMPTY; 2].into_boxed_slice(),
        };
        let mut placed = 0u64;
        let mut budget = usize::MAX;
        for k in 0..64u64 {
            if t.insert(k, 1, &mut budget).is_none() {
                break;
            }
            placed += 1;
        }
        // Two lines hold ten prefixes; the eleventh cannot be placed.
        assert_eq!(placed, 2 * super::SLOTS as u64);
        for k in 0..placed {
            assert_eq!(t.get(k), 1, "{k}");
        }
        assert_eq!(t.get(1000), 0);
        // A spent budget stops placement at once.
        let mut t = super::ByLength {
            mask: u64::MAX,
            salt: 0,
            lines: vec![super::Line::EMPTY; 64].into_boxed_slice(),
        };
        assert!(t.insert(7, 1, &mut 1).is_some());
        assert!(t.insert(8, 1, &mut 0).is_none());
    }
}
