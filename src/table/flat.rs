//! Single IPv4 lookups for lists made of prefixes: the table expanded to two levels, or a
//! coarse map and one trie level without a branch.
//!
//! A list of country blocks or provider ranges covers a share of the address space with
//! prefixes of many lengths, most of them between the direct table's depth and /24. Traffic
//! to it mixes addresses on the list with addresses on none, in an order no branch
//! predictor learns. The trie lookup branches twice on that: at the summary ("does a
//! prefix meet this block?") and at the direct slot ("a leaf, or a node below?"); each
//! mispredicted branch waits for the load it depends on, a cache miss into a table of a
//! megabyte, and discards the lookups begun behind it. On the country blocks of four
//! countries that made mixed traffic run at under half the rate of either kind alone.
//!
//! A family with more prefix entries than host entries therefore also gets, at load, a
//! bit per /17 ([`COARSE_BITS`]), set where any summary block meeting it (inside it, or
//! containing it where the summary's blocks are wider) has either bit set, and, where it
//! fits, the **expansion**: for each /17 a 16-bit chunk number (256 KiB), and per chunk the
//! answers of the /17's 128 /24s, each a 16-bit tuple index or [`DEEP`]. A lookup reads its
//! /17's chunk number, then its /24's entry: two loads, whether the address is on a list or
//! not, and no branch on which. Chunk 0 holds only "no list" and serves every /17 whose
//! bit is clear; /17s with the same answers share a chunk. An entry is `DEEP` where a
//! prefix longer than /24 or a host lies in its /24; a lookup that reads one takes the
//! trie lookup, which answers hosts and long prefixes. The expansion fits where the
//! direct table is 18 bits wide (512 and more prefixes), the family has at most 32,768
//! tuples, and its /17s need at most [`MAX_CHUNKS`] distinct chunks; it is built from the
//! direct slots and the nodes one level below them (two /18 slots a /17), so its answers
//! are the trie's.
//!
//! Where it does not fit, a clear coarse bit answers "no list" at once; the branch on it
//! depends on a cached load, so it costs little when it mispredicts. Past it, a host is
//! answered by its host tuple as in the trie lookup, and any other address reads its
//! direct slot and, whether the slot is a leaf or not, a node: the slot's node, or node 0
//! for a leaf slot. The node's leaf for the address and the slot's own answer are both
//! computed, and a conditional move picks one. Only an address under a node's child (a
//! prefix longer than the direct table's depth plus six bits) walks on, with the branches
//! of the trie lookup.
//!
//! The map is derived from the validated summary (invariant 20: a block whose bits are
//! clear maps every address to tuple 0, which names no entry, invariant 13, and holds no
//! host), so it never changes an answer.

use std::hint::select_unpredictable;

use super::{NO_TUPLE, host_tuple, in_filter, walk};
use crate::format::validate::Fam;
use crate::format::{Family, LEAF_FLAG, RawTuple, STRIDE, V4};

/// The coarse map's width: 2^17 bits, 16 KiB.
pub(crate) const COARSE_BITS: u32 = 17;

/// The coarse map of an IPv4 family: bit `i` set where a summary block meeting the `i`-th
/// /17 has either of its bits set; and the expansion, where it fits.
pub(crate) struct Flat {
    coarse: Box<[u64]>,
    expanded: Option<Expanded>,
}

/// An expansion entry whose lookup takes the trie's way: a prefix longer than /24, or a
/// host, lies in its /24.
const DEEP: u16 = 1 << 15;

/// The most chunks an expansion may hold (256 bytes each): 16 MiB.
pub(crate) const MAX_CHUNKS: usize = 1 << 16;

/// Entries per chunk: the /24s of a /17.
const CHUNK: usize = 1 << (24 - COARSE_BITS);

/// The direct table's width the expansion is built from: a /17 is two of its slots.
const EXPANDED_DIRECT_BITS: u32 = COARSE_BITS + 1;

/// An IPv4 family expanded to two levels: each /17's chunk number, and the chunks, one
/// entry per /24, a tuple index or [`DEEP`]. Chunk 0 is all "no list".
struct Expanded {
    first: Box<[u16; 1 << COARSE_BITS]>,
    chunks: Box<[u16]>,
}

impl Flat {
    /// The coarse map of `fam`, when it has more prefix entries than host entries; `None`
    /// otherwise (a host-heavy list, where the summary already stops most addresses and
    /// hits are mostly hosts).
    pub(crate) fn build(fam: &Fam<'_, V4>) -> Option<Flat> {
        if fam.entries.len() <= fam.host_count {
            return None;
        }
        let mut coarse = vec![0u64; 1 << (COARSE_BITS - 6)];
        let s = fam.summary_bits;
        for (wi, w) in fam.summary.iter().enumerate() {
            let mut w = w.get();
            while w != 0 {
                let pair = w.trailing_zeros() / 2;
                w &= !(3u64 << (2 * pair));
                let block = (wi as u64) * 32 + u64::from(pair);
                // A summary block of `s` bits lies in one /17 when `s >= 17`, and spans
                // 2^(17 - s) of them otherwise.
                let (first, n) = if s >= COARSE_BITS {
                    (block >> (s - COARSE_BITS), 1)
                } else {
                    (block << (COARSE_BITS - s), 1u64 << (COARSE_BITS - s))
                };
                for c in first..first.saturating_add(n) {
                    if let Some(word) = coarse.get_mut((c >> 6) as usize) {
                        *word |= 1 << (c & 63);
                    }
                }
            }
        }
        Some(Flat {
            expanded: Expanded::build(fam, &coarse, MAX_CHUNKS),
            coarse: coarse.into_boxed_slice(),
        })
    }

    /// Whether lookups go through the expansion.
    #[cfg(test)]
    pub(crate) fn is_expanded(&self) -> bool {
        self.expanded.is_some()
    }

    /// The tuple of `key`: the same as the trie lookup's.
    #[inline(always)]
    ///
    /// `filter`: whether a possible host reads the host filter word before its buckets, as
    /// in the trie lookup (see `filter_pays`).
    pub(crate) fn find<'a>(&self, fam: &Fam<'a, V4>, filter: bool, key: u32) -> &'a RawTuple {
        if let Some(x) = &self.expanded {
            return x.find(fam, filter, key);
        }
        let c = V4::head(key, COARSE_BITS);
        if self
            .coarse
            .get(c >> 6)
            .is_none_or(|w| (w >> (c & 63)) & 1 == 0)
        {
            return &NO_TUPLE;
        }
        if fam.host_count != 0 && super::summary_bits(fam, key) & 2 != 0 {
            let h = V4::hash(key, fam.seed);
            if (!filter || in_filter(fam, h))
                && let Some(t) = host_tuple(fam, key, h)
            {
                return t;
            }
        }
        let slot = super::direct_slot(fam, key);
        let is_leaf = slot & LEAF_FLAG != 0;
        // A leaf slot reads node 0, whose result is then dropped: a load that hits the
        // cache, where a branch here would mispredict on about every other hit.
        let Some(n) = fam
            .nodes
            .get(select_unpredictable(is_leaf, 0, slot) as usize)
        else {
            // No nodes: every slot is a leaf.
            return fam
                .tuples
                .get((slot & !LEAF_FLAG) as usize)
                .unwrap_or(&NO_TUPLE);
        };
        let bit = 1u64 << V4::slot(key, fam.direct_bits, STRIDE);
        if select_unpredictable(is_leaf, 0, n.children.get()) & bit != 0 {
            let t = walk(fam, key, slot, fam.direct_bits);
            return fam.tuples.get(t as usize).unwrap_or(&NO_TUPLE);
        }
        let rank = (n.leaf_runs.get() & (bit | bit.wrapping_sub(1))).count_ones();
        let leaf = n.base_leaf.get().wrapping_add(rank).wrapping_sub(1);
        let leaf = fam
            .leaves
            .get(select_unpredictable(is_leaf, 0, leaf) as usize)
            .map_or(0, |l| l.get());
        let t = select_unpredictable(is_leaf, slot & !LEAF_FLAG, leaf);
        fam.tuples.get(t as usize).unwrap_or(&NO_TUPLE)
    }
}

impl Expanded {
    /// The expansion of `fam` (`coarse`: its coarse map), or `None` where it does not fit:
    /// a direct table other than 18 bits wide, more than 32,768 tuples, or more than
    /// `max_chunks` distinct chunks.
    fn build(fam: &Fam<'_, V4>, coarse: &[u64], max_chunks: usize) -> Option<Expanded> {
        const HALF: usize = CHUNK / 2;
        if fam.direct_bits != EXPANDED_DIRECT_BITS || fam.tuples.len() > usize::from(DEEP) {
            return None;
        }
        // The /24s that hold a host, in order.
        let mut host_24s: Vec<u32> = fam.hosts().map(|(h, _)| h >> 8).collect();
        host_24s.sort_unstable();
        host_24s.dedup();
        let mut hosts = host_24s.into_iter().peekable();
        let mut first = vec![0u16; 1 << COARSE_BITS];
        let mut chunks = vec![0u16; CHUNK];
        // The chunk of each tuple whose chunk is that tuple alone (0: none yet; tuple 0,
        // "no list", is chunk 0).
        let mut whole = vec![0u16; fam.tuples.len()];
        let mut chunk = [0u16; CHUNK];
        // The /17s whose coarse bit is set, in order; the others keep chunk 0.
        let set = coarse.iter().enumerate().flat_map(|(wi, w)| {
            let mut w = *w;
            std::iter::from_fn(move || {
                let b = w.trailing_zeros() as usize;
                w &= w.wrapping_sub(1);
                (b < 64).then_some(wi * 64 + b)
            })
        });
        for c in set {
            let f = first.get_mut(c)?;
            // Each half is a /18: its direct slot's leaf, or its node's 64 children.
            for (h, half) in chunk.chunks_mut(HALF).enumerate() {
                let s = fam.direct.get(2 * c + h)?.get();
                if s & LEAF_FLAG != 0 {
                    half.fill(u16::try_from(s & !LEAF_FLAG).ok()?);
                    continue;
                }
                let n = fam.nodes.get(s as usize)?;
                let (children, runs) = (n.children.get(), n.leaf_runs.get());
                // Child `p`'s leaf is the node's leaf run holding `p`: the base plus the
                // runs starting at or before `p`, minus one.
                let mut leaf = n.base_leaf.get().wrapping_sub(1);
                for (p, e) in half.iter_mut().enumerate() {
                    leaf = leaf.wrapping_add(((runs >> p) & 1) as u32);
                    // A validated leaf names a tuple, and there are at most 2^15 here: the
                    // cast keeps it whole.
                    let t = fam.leaves.get(leaf as usize).map_or(0, |l| l.get() as u16);
                    *e = select_unpredictable((children >> p) & 1 != 0, DEEP, t);
                }
            }
            // Host /24s are in order, and every one lies in a /17 whose bit is set (the
            // summary's host bit, invariant 20): those below this /17 are passed over.
            let lo = (c as u32) << (24 - COARSE_BITS);
            while let Some(h) = hosts.next_if(|h| *h < lo + CHUNK as u32) {
                if let Some(e) = h.checked_sub(lo).and_then(|i| chunk.get_mut(i as usize)) {
                    *e = DEEP;
                }
            }
            // A /17 inside one prefix shares its chunk with the prefix's other /17s.
            let one = chunk.iter().all(|e| *e == chunk[0]);
            if one
                && let Some(&n) = whole.get(usize::from(chunk[0]))
                && (n != 0 || chunk[0] == 0)
            {
                *f = n;
                continue;
            }
            let n = chunks.len() / CHUNK;
            if n >= max_chunks {
                return None;
            }
            let n = u16::try_from(n).ok()?;
            chunks.extend_from_slice(&chunk);
            if one && let Some(w) = whole.get_mut(usize::from(chunk[0])) {
                *w = n;
            }
            *f = n;
        }
        Some(Expanded {
            first: first.into_boxed_slice().try_into().ok()?,
            chunks: chunks.into_boxed_slice(),
        })
    }

    /// [`Flat::find`] through the expansion: the /17's chunk number, the /24's entry, and
    /// a branch, not taken but for a [`DEEP`] entry, to the trie lookup.
    #[inline(always)]
    fn find<'a>(&self, fam: &Fam<'a, V4>, filter: bool, key: u32) -> &'a RawTuple {
        let c = usize::from(self.first[(key >> (32 - COARSE_BITS)) as usize]);
        let i = (c << (24 - COARSE_BITS)) | ((key >> 8) as usize & (CHUNK - 1));
        let t = self.chunks.get(i).map_or(0, |e| *e);
        if t & DEEP != 0 {
            return super::find(fam, filter, key);
        }
        fam.tuples.get(usize::from(t)).unwrap_or(&NO_TUPLE)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::entry::List;
    use crate::format::mix64;
    use crate::table::summary_bits;
    use crate::table::tests::table;

    /// Prefixes of every length from /8 to /31 (some under a node's child, /25 and
    /// longer), nested in each other and across the lists, and a few hosts inside them.
    fn prefix_list(n: u64, hosts: u64) -> Vec<(List, String)> {
        let mut out = Vec::new();
        for i in 0..n {
            let r = mix64(i);
            let len = 8 + (r % 24) as u32;
            let addr = (r >> 32) as u32 & (u32::MAX << (32 - len));
            let list =
                [List::Global, List::Global, List::Blocked, List::Approved][(r >> 8) as usize % 4];
            out.push((list, format!("{}/{len}", Ipv4Addr::from(addr))));
        }
        for i in 0..hosts {
            let r = mix64(i ^ 0xf00d);
            out.push((
                List::Global,
                format!("{}/32", Ipv4Addr::from((r >> 16) as u32)),
            ));
        }
        out
    }

    /// The coarse map has a bit set exactly where a summary block meeting its /17 has one,
    /// for summaries narrower and wider than the map.
    #[test]
    #[cfg_attr(miri, ignore = "2^17 bits: too slow interpreted")]
    fn coarse_bit_is_any_summary_block_inside() {
        for n in [10, 3000] {
            let t = table(&prefix_list(n, 0));
            let fam = &t.layout().v4;
            let flat = Flat::build(fam).unwrap();
            let s = fam.summary_bits;
            assert_eq!(s < COARSE_BITS, n == 10, "summary of {s} bits");
            let mut set = 0;
            for c in 0..1u32 << COARSE_BITS {
                let bit = flat.coarse[(c >> 6) as usize] >> (c & 63) & 1 != 0;
                // The /17's first address, and every summary block inside it.
                let first = c << (32 - COARSE_BITS);
                let blocks = 1u32 << s.saturating_sub(COARSE_BITS);
                let step = 1u32.checked_shl(32 - s).unwrap_or(0);
                let any = (0..blocks)
                    .any(|b| summary_bits(fam, first.wrapping_add(b.wrapping_mul(step))) != 0);
                assert_eq!(bit, any, "/17 number {c}");
                set += u32::from(bit);
            }
            assert!(set > 0 && set < 1 << COARSE_BITS, "{set} bits set");
        }
    }

    /// Only a family with more prefix entries than host entries gets the map.
    #[test]
    fn only_lists_made_of_prefixes() {
        assert!(Flat::build(&table(&prefix_list(50, 49)).layout().v4).is_some());
        assert!(Flat::build(&table(&prefix_list(50, 50)).layout().v4).is_none());
        assert!(Flat::build(&table(&prefix_list(50, 60)).layout().v4).is_none());
        assert!(Flat::build(&table(&[(List::Global, "2001:db8::/32")]).layout().v4).is_none());
    }

    /// From 512 prefixes on, an IPv4 list of mostly prefixes gets the 18-bit direct table
    /// (a /24 one node down); a host-heavy one, and IPv6, keep 16 bits up to 8,191.
    #[test]
    fn prefix_lists_get_the_wide_direct_table() {
        let v6 = |n: u32| (0..n).map(move |i| (List::Global, format!("2001:db8:{i:x}::/48")));
        for (prefixes, hosts, v4_bits) in
            [(600, 0, 18), (600, 599, 18), (600, 600, 16), (500, 0, 12)]
        {
            let mut entries = prefix_list(0, hosts);
            entries.extend(
                (0..prefixes).map(|i| (List::Global, format!("{}/24", Ipv4Addr::from(i << 8)))),
            );
            entries.extend(v6(600));
            let t = table(&entries);
            assert_eq!(
                t.layout().v4.direct_bits,
                v4_bits,
                "{prefixes} prefixes, {hosts} hosts"
            );
            assert_eq!(t.layout().v6.direct_bits, 16);
        }
    }

    /// The answer through the map equals the trie lookup's, for addresses inside, at the
    /// edges of and beside every entry, and random ones; on one list (/30s, each three
    /// nodes below a 12-bit direct table) the trie lookup starts from its jump table, which
    /// the map's lookup does not read.
    #[test]
    #[cfg_attr(miri, ignore = "4,000 entries: too slow interpreted")]
    fn agrees_with_the_trie_lookup() {
        let jumps: Vec<_> = (0..200u32)
            .map(|i| {
                let a = Ipv4Addr::from(mix64(u64::from(i)) as u32 & !3);
                (List::Global, format!("{a}/30"))
            })
            .collect();
        for (entries, jump, expanded) in [
            (prefix_list(4000, 300), false, true),
            (prefix_list(40, 0), false, false),
            (prefix_list(1, 0), false, false),
            (jumps, true, false),
        ] {
            let t = table(&entries);
            let fam = &t.layout().v4;
            assert_eq!(fam.jump_bits != 0, jump, "jump bits {}", fam.jump_bits);
            let flat = Flat::build(fam).unwrap();
            assert_eq!(
                flat.expanded.is_some(),
                expanded,
                "direct bits {}",
                fam.direct_bits
            );
            let plain = Flat {
                coarse: flat.coarse.clone(),
                expanded: None,
            };
            let mut keys: Vec<u32> = (0..50_000).map(|i| mix64(i ^ 0xbeef) as u32).collect();
            for e in t.entries() {
                let ipnet::IpNet::V4(net) = e.prefix() else {
                    continue;
                };
                let (lo, hi) = (u32::from(net.network()), u32::from(net.broadcast()));
                keys.extend([
                    lo,
                    hi,
                    lo.wrapping_sub(1),
                    hi.wrapping_add(1),
                    lo ^ (hi >> 1),
                ]);
            }
            let mut hits = 0;
            for k in keys {
                let want = super::super::find(fam, true, k);
                for filter in [false, true] {
                    for f in [&flat, &plain] {
                        assert_eq!(f.find(fam, filter, k).0, want.0, "{}", Ipv4Addr::from(k));
                    }
                }
                hits += usize::from(want.0 != NO_TUPLE.0);
            }
            assert!(hits > 0);
        }
    }

    /// The expansion: a /17 inside one prefix shares that prefix's chunk, chunk 0 is "no
    /// list", a /24 holding a host or a prefix longer than /24 is `DEEP`, and the chunk
    /// bound and the tuple bound are kept.
    #[test]
    #[cfg_attr(miri, ignore = "2^17 /17s: too slow interpreted")]
    fn expansion_shares_chunks_and_keeps_its_bounds() {
        let mut entries = vec![
            (List::Global, "10.0.0.0/8".to_string()),
            (List::Global, "192.0.2.0/25".to_string()),
            (List::Blocked, "198.51.100.7/32".to_string()),
        ];
        entries.extend((0..600u32).map(|i| {
            let a = Ipv4Addr::from(0x2000_0000 + (i << 12));
            (List::Global, format!("{a}/24"))
        }));
        let t = table(&entries);
        let fam = &t.layout().v4;
        let coarse = Flat::build(fam).unwrap().coarse;
        let x = Expanded::build(fam, &coarse, MAX_CHUNKS).unwrap();
        let chunk = |a: &str| {
            let a = u32::from(a.parse::<Ipv4Addr>().unwrap());
            let c = usize::from(x.first[(a >> (32 - COARSE_BITS)) as usize]);
            let i = c * CHUNK + (a >> 8) as usize % CHUNK;
            (c, x.chunks[i])
        };
        // The /8's 512 /17s: one chunk of one tuple.
        let (c10, t10) = chunk("10.0.0.1");
        assert!(c10 != 0 && t10 != 0 && t10 & DEEP == 0);
        assert_eq!(chunk("10.255.255.255"), (c10, t10));
        assert_eq!(chunk("10.128.0.0"), (c10, t10));
        assert!(x.chunks[c10 * CHUNK..][..CHUNK].iter().all(|e| *e == t10));
        // No entry: chunk 0, all zeros.
        assert_eq!(chunk("11.0.0.1"), (0, 0));
        assert!(x.chunks[..CHUNK].iter().all(|e| *e == 0));
        // A /25 and a host make their /24 deep, and only it.
        assert_eq!(chunk("192.0.2.200").1, DEEP);
        assert_eq!(chunk("198.51.100.1").1, DEEP);
        assert_eq!(chunk("198.51.101.1").1, 0);
        assert_eq!(chunk("192.0.3.1").1, 0);
        // Chunk 0, the /8's, one per /17 holding /24s (eight each), the /25's, the host's.
        assert_eq!(x.chunks.len() / CHUNK, 2 + 75 + 2);
        assert!(Expanded::build(fam, &coarse, 79).is_some());
        assert!(Expanded::build(fam, &coarse, 78).is_none());

        // More tuples than 15 bits number: no expansion.
        let many: Vec<_> = (0..33_000u32)
            .map(|i| (List::Global, format!("{}/24", Ipv4Addr::from(i << 8))))
            .collect();
        let t = table(&many);
        let fam = &t.layout().v4;
        assert!(fam.tuples.len() > usize::from(DEEP));
        assert!(Flat::build(fam).unwrap().expanded.is_none());
    }
}
