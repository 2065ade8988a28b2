//! Prefix groups: a shallow index over a small IPv6 prefix list, built at load.
//!
//! An IPv6 list of a few dozen prefixes (Spamhaus DROPv6 has about fifty, /29 to /48) sits
//! in a trie whose direct table is small, so a hit walks four to seven dependent nodes.
//! When every prefix is a /48 or shorter and the list is small, the table also gets this
//! index: a bit per /12 (set where a block inside has a group), one byte per /16 block
//! naming the block's **group**, and in each group [`LANES`] lanes: up to `LANES - 1` of
//! the block's prefixes longer than /16, longest first, as (bits 16–47, mask, tuple), then
//! the block's covering prefix (or none) in every lane left. A lookup reads its
//! /12's bit (most addresses stop there), then its block's byte, compares the address with
//! every prefix of the block's group at once (no branch per prefix), and takes the first
//! that matches: the longest. That is a word of a 512-byte map, the block's byte, the
//! group's three cache lines and the answer's tuple, where the walk reads a node per six
//! bits.
//!
//! The /12 map is read first, rather than the block bytes, because it is small: uniform
//! traffic in 2000::/3 reads 64 bytes of it, where it would read 8 KiB of block bytes. Under
//! a loop that also writes each answer to the stack, reading the 8 KiB region first ran at
//! about 1,400 or about 400 million lookups a second depending on where the process's stack
//! and heap fell (the loads then alias the stores' addresses modulo 4 KiB); the map's
//! 64 bytes rarely do.
//!
//! The index is derived from the validated table alone, from each prefix's answer (see
//! `answers`). Tables it does not fit keep the trie walk alone, and so do tables with more
//! tuples than the compiler writes: building the index reads each tuple at most once and
//! allocates in proportion to the prefixes only.

use std::collections::BTreeMap;

use super::answers::prefix_answers;
use crate::format::validate::Layout;
use crate::format::{Family, RawTuple, V6};

// Prefixes a group compares at once. The last lane of every group is a catch-all (the
// block's covering prefix, or none), so a group holds at most `LANES - 1` longer prefixes.
pub(crate) use crate::lanes::LANES;

/// The most IPv6 prefix entries a table may have for the index to be built.
const MAX_ENTRIES: usize = 4096;

/// The most groups (blocks holding or covered by a prefix): one byte names a group, and
/// [`NO_GROUP`] none.
const MAX_GROUPS: usize = NO_GROUP as usize;

/// One /16 block's prefixes: lane `i` matches an address whose bits 16–47 (as a `u32`),
/// masked by `mask[i]`, equal `bits[i]`; its answer is tuple `tuple[i]`. Unused lanes
/// match every address and name the block's covering prefix's tuple, or `u32::MAX` (no
/// tuple: no list).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Group {
    bits: [u32; LANES],
    mask: [u32; LANES],
    tuple: [u32; LANES],
}

/// A block byte naming no group.
const NO_GROUP: u8 = u8::MAX;

/// The index: a group number ([`NO_GROUP`] for none) per /16 block, and the groups.
pub(crate) struct Groups {
    /// One bit per /12: set when a block inside it has a group. Most addresses on no list
    /// stop here, at one of 64 words (8 for 2000::/3), rather than at the block bytes.
    coarse: Box<[u64; 64]>,
    block: Box<[u8; 1 << 16]>,
    groups: Box<[Group]>,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups")
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

impl Groups {
    /// The index for `layout`'s IPv6 prefixes, or `None` when the table has none, more than
    /// [`MAX_ENTRIES`], one longer than /48, more IPv6 tuples than distinct prefixes plus
    /// one, a block with more than `LANES - 1` prefixes longer than /16, or more than
    /// [`MAX_GROUPS`] blocks to cover.
    pub(crate) fn build(layout: &Layout<'_>) -> Option<Groups> {
        let entries = layout.v6.entries;
        // The cheap refusals first, before anything is allocated.
        if entries.is_empty()
            || entries.len() > MAX_ENTRIES
            || entries.iter().any(|e| V6::entry_len(e) > 48)
        {
            return None;
        }
        let prefixes = prefix_answers(layout)?;
        // Per block: the prefixes longer than /16 (length, bits, mask, tuple), and the
        // longest prefix of /16 or shorter that covers the whole block (length, tuple).
        let mut lanes: BTreeMap<u16, Vec<(u8, u32, u32, u32)>> = BTreeMap::new();
        let mut cover: BTreeMap<u16, (u8, u32)> = BTreeMap::new();
        for (addr, len, t) in prefixes {
            // `t` is `ABSENT` (`u32::MAX`, no answer) for a prefix whose answer the table
            // does not hold: longer prefixes cover all of it, so no address answers with it.
            let first = (addr >> 112) as u16;
            if len > 16 {
                let mask = u32::MAX.checked_shl(48u32.checked_sub(u32::from(len))?)?;
                let own = lanes.entry(first).or_default();
                own.push((len, (addr >> 80) as u32, mask, t));
                if own.len() >= LANES || lanes.len() > MAX_GROUPS {
                    return None;
                }
            } else {
                let count = 1usize.checked_shl(16u32.checked_sub(u32::from(len))?)?;
                if count > MAX_GROUPS {
                    return None;
                }
                for b in (usize::from(first)..).take(count) {
                    let b = u16::try_from(b).ok()?;
                    // Prefixes come in address order, so a longer one that covers the
                    // block comes after a shorter one.
                    if cover.get(&b).is_none_or(|c| c.0 <= len) {
                        cover.insert(b, (len, t));
                    }
                }
                if cover.len() > MAX_GROUPS {
                    return None;
                }
            }
        }
        let mut blocks: Vec<u16> = lanes.keys().chain(cover.keys()).copied().collect();
        blocks.sort_unstable();
        blocks.dedup();
        if blocks.len() > MAX_GROUPS {
            return None;
        }
        let mut block = vec![NO_GROUP; 1 << 16].into_boxed_slice();
        let mut coarse = [0u64; 64];
        let mut groups = Vec::with_capacity(blocks.len());
        for (n, b) in blocks.into_iter().enumerate() {
            let twelve = usize::from(b >> 4);
            *coarse.get_mut(twelve >> 6)? |= 1 << (twelve & 63);
            let catch_all = cover.get(&b).map_or(u32::MAX, |c| c.1);
            let mut g = Group {
                bits: [0; LANES],
                mask: [0; LANES],
                tuple: [catch_all; LANES],
            };
            let mut own = lanes.remove(&b).unwrap_or_default();
            // Longest first: the first lane that matches is the longest match.
            own.sort_by_key(|x| std::cmp::Reverse(x.0));
            let lanes = g.bits.iter_mut().zip(&mut g.mask).zip(&mut g.tuple);
            for (((b, m), t), (_, bits, mask, tuple)) in lanes.zip(own) {
                (*b, *m, *t) = (bits, mask, tuple);
            }
            groups.push(g);
            *block.get_mut(usize::from(b))? = u8::try_from(n).ok()?;
        }
        Some(Groups {
            coarse: Box::new(coarse),
            block: block.try_into().ok()?,
            groups: groups.into_boxed_slice(),
        })
    }

    /// The tuple for `key` among `tuples` (the IPv6 tuples of the table the index was built
    /// from): the longest prefix's of its block, or none. Never panics, never allocates.
    #[inline(always)]
    pub(crate) fn find<'a>(&self, tuples: &'a [RawTuple], key: u128) -> &'a RawTuple {
        let none = &super::NO_TUPLE;
        let top = (key >> 112) as usize;
        let twelve = top >> 4;
        let word = self.coarse.get(twelve >> 6).copied().unwrap_or(0);
        if (word >> (twelve & 63)) & 1 == 0 {
            return none;
        }
        let n = self.block.get(top).copied().unwrap_or(NO_GROUP);
        if n == NO_GROUP {
            return none;
        }
        let Some(g) = self.groups.get(usize::from(n)) else {
            return none;
        };
        let bits = (key >> 80) as u32;
        let hit = crate::lanes::matching(bits, &g.bits, &g.mask);
        // The last lane matches every address, so `hit` has a bit set.
        g.tuple
            .get(hit.trailing_zeros() as usize)
            .and_then(|t| tuples.get(*t as usize))
            .unwrap_or(none)
    }
}

#[cfg(test)]
mod tests {
    use crate::table::tests::table;
    use crate::{List, Table};

    /// Every address's answer through the groups equals the trie's (the list fits them).
    fn agrees_with_trie(t: &Table) {
        let g = t.v6_groups.as_ref().unwrap();
        crate::table::tests::agrees_with_trie(t, Some(g), None, None, 16);
    }

    #[test]
    fn small_lists_get_groups_that_agree_with_the_trie() {
        // DROPv6-like: /29 to /48, nested across lists, and a /12 covering whole blocks.
        let t = table(&[
            (List::Global, "2001:db8::/32"),
            (List::Global, "2001:db8:1::/48"),
            (List::Blocked, "2001:db8::/29"),
            (List::Approved, "2001:db8:1::/48"),
            (List::Global, "2001:db8:1:2::/48"),
            (List::Global, "2a0e:1c80::/29"),
            (List::Global, "2a0e:1c80::/36"),
            (List::Global, "3ff0::/12"),
            (List::Blocked, "3ffe:1::/32"),
            (List::Global, "2001:db8::7/128"),
        ]);
        agrees_with_trie(&t);
    }

    #[test]
    fn lists_that_do_not_fit_keep_the_trie() {
        // A prefix longer than /48.
        assert!(
            table(&[(List::Global, "2001:db8::/64")])
                .v6_groups
                .is_none()
        );
        // Sixteen prefixes longer than /16 in one block.
        let nets: Vec<String> = (0..16).map(|i| format!("2001:db8:{i:x}::/48")).collect();
        let entries: Vec<_> = nets.iter().map(|n| (List::Global, n.as_str())).collect();
        assert!(table(&entries).v6_groups.is_none());
        // Fifteen fit.
        let t = table(entries.get(..15).unwrap());
        agrees_with_trie(&t);
        // A prefix that covers more blocks than there may be groups.
        assert!(table(&[(List::Global, "2000::/3")]).v6_groups.is_none());
        // No IPv6 prefix at all.
        assert!(table(&[(List::Global, "192.0.2.0/24")]).v6_groups.is_none());
    }

    /// A table with more IPv6 tuples than it has prefixes, plus tuple 0, was not written by
    /// the compiler (an address's answer is its longest prefix's): it loads, keeps the trie
    /// alone, and the index is not built from its tuples (which could be millions).
    #[test]
    fn extra_tuples_keep_the_trie() {
        use crate::format::{CHECKSUM_AT, FIXED_HEADER_LEN, checksum};
        let nets = ["2001:db8::/32", "2001:db8:1::/48"];
        let entries: Vec<_> = nets.iter().map(|n| (List::Global, *n)).collect();
        let t = table(&entries);
        assert!(t.v6_groups.is_some());
        let mut bytes = t.as_bytes().to_vec();
        let u64_at = |b: &[u8], at: usize| {
            u64::from_le_bytes(b.get(at..at + 8).unwrap().try_into().unwrap())
        };
        // Three more copies of tuple 0 (valid: every element `NONE`) at the end of the
        // IPv6 tuples (section 19); the later sections move up, the file grows.
        let extra = [0xffu8; 3 * 12];
        let entry = |i: usize| FIXED_HEADER_LEN + 16 * i;
        let (off, len) = (u64_at(&bytes, entry(19)), u64_at(&bytes, entry(19) + 8));
        let end = usize::try_from(off + len).unwrap();
        bytes.splice(end..end, extra.iter().copied());
        let grow = extra.len() as u64;
        bytes[entry(19) + 8..entry(19) + 16].copy_from_slice(&(len + grow).to_le_bytes());
        for i in 20..23 {
            let o = u64_at(&bytes, entry(i)) + grow;
            bytes[entry(i)..entry(i) + 8].copy_from_slice(&o.to_le_bytes());
        }
        let file_len = bytes.len() as u64;
        bytes[24..32].copy_from_slice(&file_len.to_le_bytes());
        let sum = checksum(&bytes);
        bytes[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&sum.to_le_bytes());
        let tampered = Table::from_bytes(bytes).unwrap();
        assert!(tampered.v6_groups.is_none());
        let a = "2001:db8:1::5".parse().unwrap();
        assert_eq!(
            tampered.lookup(a).get(List::Global).map(|e| e.prefix()),
            Some("2001:db8:1::/48".parse().unwrap())
        );
    }
}
