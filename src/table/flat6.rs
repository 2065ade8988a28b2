//! Single IPv6 lookups for lists made of prefixes: the table expanded, 8 bits a level, down
//! to /32, and below a /32 that longer prefixes divide, down to /48.
//!
//! IPv6 country blocks and provider ranges are thousands of prefixes of many lengths
//! (mostly /29 and /32 allocations, some /48 sites): too many for the prefix groups, too
//! many lengths for the per-length tables. In the trie their hits walk four to six nodes
//! below a 16-bit direct table, behind a summary whose blocks are wide enough that most
//! addresses in a listed region pass it, so mixed traffic pays a mispredicted branch and a
//! walk per listed address.
//!
//! Such a table also gets, at load, the **expansion**: for each /16 a 16-bit chunk number
//! at the /24 level; there, for each of the /16's 256 /24s, a chunk number at the /32
//! level; there, for each of the /24's 256 /32s, a 16-bit tuple index, or [`DEEP`] with
//! the number of a chunk at the /40 level where prefixes longer than /32 or a host lie in
//! that /32; below it, a /40 level of chunk numbers and a /48 level of tuple indices, where
//! `DEEP` alone marks a /48 holding a longer prefix or a host. Chunk 0 of each level
//! stands for "no list", and a region inside one prefix (a /16 in a /12, a /24 in a /20)
//! shares one chunk per answer, so a chunk is stored only for a region that prefixes
//! divide.
//!
//! A lookup reads its /16's chunk number (the 2000::/3 part of the array is 16 KiB, kept
//! cached by the traffic that reads it). Chunk 0, a /16 that no entry meets, is the answer
//! "no list" at once: most addresses stop there, and the branch on it is predicted where
//! most traffic is on no list. Past it, a lookup reads two more words without a branch on
//! whether the address is listed; under a /32 that longer prefixes divide, two more; and
//! only under a /48 that a longer prefix or a host divides, or a prefix whose answer the
//! table does not hold, the trie lookup. (Reading all three words for every address, with
//! no branch at all, ran traffic of half listed addresses faster, 2.2–2.8 times poptrie's
//! rate instead of 1.8, but uniform traffic at 1.1–1.6 times instead of 2.2–2.4.)
//!
//! Each prefix's answer comes from the entries and the tuples (`answers`), as for the
//! other IPv6 indexes; a prefix whose answer the table does not hold (every address of it
//! lies in longer prefixes) is `DEEP`, so its addresses ask the trie.

use super::answers::prefix_answers;
use super::{NO_TUPLE, find};
use crate::format::validate::{Fam, Layout};
use crate::format::{RawTuple, V6};

/// An entry of the /32 or /48 level whose lookup goes deeper: at the /32 level with a /40
/// chunk number in the low bits (none: the trie), at the /48 level to the trie.
const DEEP: u16 = 1 << 15;

/// The mark of a /16's value while the build paints them (a value other than 0 with
/// `PAINTED`, `DEEP` as `PAINTED` alone); chunk numbers are below it.
const PAINTED: u16 = 1 << 15;

/// Entries per chunk: the 256 regions 8 bits longer than the chunk's.
const CHUNK: usize = 256;

/// The levels below the first, by the length of their entries' regions.
const LEVELS: [u32; 4] = [24, 32, 40, 48];

/// The level of tuple indices above the /40 and /48 levels.
const L32: usize = 1;

/// The level of tuple indices at the bottom.
const L48: usize = 3;

/// The most chunks in all levels: 32,767 of 512 bytes, 16 MiB.
pub(crate) const MAX_CHUNKS: usize = (1 << 15) - 1;

/// An IPv6 family expanded to /32, and to /48 below the /32s that longer prefixes divide
/// (see the module).
pub(crate) struct Flat6 {
    first: Box<[u16; 1 << 16]>,
    levels: [Box<[u16]>; 4],
}

/// A prefix no longer than /48, as its top 64 bits, length and value (a tuple or
/// [`DEEP`]).
type Short = (u64, u8, u16);

impl Flat6 {
    /// The expansion of `layout`'s IPv6 family, or `None` where it does not fit: a family
    /// with no more prefix entries than hosts, more than 32,768 tuples, prefixes whose
    /// answers the tuples cannot give, or more than `max_chunks` chunks in all.
    pub(crate) fn build(layout: &Layout<'_>, max_chunks: usize) -> Option<Flat6> {
        let fam = &layout.v6;
        if fam.entries.len() <= fam.host_count || fam.tuples.len() > usize::from(DEEP) {
            return None;
        }
        let answers = prefix_answers(layout)?;
        // A prefix's value: its answer's tuple, or `DEEP` where the table does not hold
        // its answer (`ABSENT`).
        let value = |t: u32| match u16::try_from(t) {
            Ok(t) if t < DEEP => t,
            _ => DEEP,
        };
        // The /48s that hold a longer prefix or a host, in order.
        let mask48 = u64::MAX << 16;
        let mut deep: Vec<u64> = answers
            .iter()
            .filter(|p| p.1 > 48)
            .map(|p| (p.0 >> 64) as u64 & mask48)
            .chain(fam.hosts().map(|(h, _)| (h >> 64) as u64 & mask48))
            .collect();
        deep.sort_unstable();
        deep.dedup();
        // The prefixes up to /48, in address order, shorter first where they start
        // together: a prefix comes before the prefixes inside it.
        let short: Vec<Short> = answers
            .iter()
            .filter(|p| p.1 <= 48)
            .map(|p| ((p.0 >> 64) as u64, p.1, value(p.2)))
            .collect();
        let mut b = Builder {
            levels: std::array::from_fn(|_| vec![0; CHUNK]),
            whole: std::array::from_fn(|_| vec![0; fam.tuples.len() + 1]),
            chunks: LEVELS.len(),
            max_chunks,
        };
        // Each /16's covering value: the prefixes up to /16 painted, each with its value
        // marked by `PAINTED` (chunk numbers are below it), until the /16 gets its chunk.
        let short16: Vec<Short> = short
            .iter()
            .filter(|p| p.1 <= 16)
            .map(|&(a, len, v)| (a, len, if v == 0 { 0 } else { PAINTED | v }))
            .collect();
        let mut first = vec![0u16; 1 << 16];
        paint(&mut first, 0, 0, short16.iter());
        // The /16s that longer prefixes or deep /48s divide, in order, each once.
        let long: Vec<Short> = short.iter().filter(|p| p.1 > 16).copied().collect();
        let (mut si, mut di) = (0, 0);
        loop {
            let h = match (long.get(si), deep.get(di)) {
                (None, None) => break,
                (Some(p), None) => p.0 >> 48,
                (None, Some(d)) => d >> 48,
                (Some(p), Some(d)) => (p.0 >> 48).min(d >> 48),
            };
            let lo = h << 48;
            let hi = lo | (u64::MAX >> 16);
            let s0 = si;
            while long.get(si).is_some_and(|p| p.0 <= hi) {
                si += 1;
            }
            let d0 = di;
            while deep.get(di).is_some_and(|d| *d <= hi) {
                di += 1;
            }
            let e = first.get_mut(h as usize)?;
            *e = b.chunk(0, lo, painted(*e), long.get(s0..si)?, deep.get(d0..di)?)?;
        }
        // Then every other /16 a prefix covers: its value's chunk, looked up once per run
        // of one value (and only for a value such a /16 has, so that no chunk is stored
        // that nothing points to).
        if !short16.is_empty() {
            let mut run = (0, 0);
            for e in first.iter_mut().filter(|e| **e & PAINTED != 0) {
                if *e != run.0 {
                    run = (*e, b.whole(0, painted(*e))?);
                }
                *e = run.1;
            }
        }
        Some(Flat6 {
            first: first.into_boxed_slice().try_into().ok()?,
            // Without the spare capacity of their growth.
            levels: b.levels.map(Vec::into_boxed_slice),
        })
    }

    /// The tuple of `key`: the /16's chunk number, and for a /16 some entry meets, two
    /// more loads, two more under a /32 that longer prefixes divide, and the trie lookup
    /// under a /48 that a longer prefix or a host divides.
    #[inline(always)]
    pub(crate) fn find<'a>(&self, fam: &Fam<'a, V6>, key: u128) -> &'a RawTuple {
        let a = (key >> 64) as u64;
        let c = self.first[(a >> 48) as usize];
        if c == 0 {
            return &NO_TUPLE;
        }
        let c = self.entry(0, c, a);
        let t = self.entry(L32, c, a);
        if t & DEEP != 0 {
            return self.find_deeper(fam, key, t);
        }
        fam.tuples.get(usize::from(t)).unwrap_or(&NO_TUPLE)
    }

    /// Chunk `c`'s entry at `level` for the top 64 bits `a` of an address.
    #[inline(always)]
    fn entry(&self, level: usize, c: u16, a: u64) -> u16 {
        let shift = 64 - LEVELS.get(level).map_or(64, |l| *l);
        let i = (usize::from(c) << 8) | ((a >> shift) & 0xff) as usize;
        self.levels
            .get(level)
            .and_then(|l| l.get(i))
            .map_or(0, |e| *e)
    }

    /// [`Flat6::find`] past a `DEEP` entry `t` at the /32 level.
    #[cold]
    #[inline(never)]
    fn find_deeper<'a>(&self, fam: &Fam<'a, V6>, key: u128, t: u16) -> &'a RawTuple {
        let a = (key >> 64) as u64;
        let c = t & !DEEP;
        if c == 0 {
            return find(fam, true, key);
        }
        let c = self.entry(L32 + 1, c, a);
        let t = self.entry(L48, c, a);
        if t & DEEP != 0 {
            return find(fam, true, key);
        }
        fam.tuples.get(usize::from(t)).unwrap_or(&NO_TUPLE)
    }
}

/// The chunks being built, with the shared chunk of each value.
struct Builder {
    levels: [Vec<u16>; 4],
    /// Per level, the chunk all of whose addresses take one value, by [`Builder::slot`]
    /// (0: none yet, but for value 0, whose chunks are chunk 0).
    whole: [Vec<u16>; 4],
    /// Chunks in all levels.
    chunks: usize,
    max_chunks: usize,
}

impl Builder {
    /// Appends `chunk` to `level`, and gives its number.
    fn push(&mut self, level: usize, chunk: &[u16; CHUNK]) -> Option<u16> {
        if self.chunks >= self.max_chunks {
            return None;
        }
        let l = self.levels.get_mut(level)?;
        let n = u16::try_from(l.len() / CHUNK).ok()?;
        l.extend_from_slice(chunk);
        self.chunks += 1;
        Some(n)
    }

    /// The chunk at `level` all of whose addresses take value `v`.
    fn whole(&mut self, level: usize, v: u16) -> Option<u16> {
        let slot = self.slot(level, v)?;
        let n = *self.whole.get(level)?.get(slot)?;
        if n != 0 || v == 0 {
            return Some(n);
        }
        // A level of tuple indices holds `v`; a level of chunk numbers, the next level's
        // chunk of `v`. `DEEP` alone at the /32 level sends its addresses to the trie.
        let e = if level == L32 || level == L48 {
            v
        } else {
            self.whole(level + 1, v)?
        };
        let n = self.push(level, &[e; CHUNK])?;
        *self.whole.get_mut(level)?.get_mut(slot)? = n;
        Some(n)
    }

    /// Where `whole` keeps value `v` at `level`: a tuple index at its own place, `DEEP`
    /// after the last tuple.
    fn slot(&self, level: usize, v: u16) -> Option<usize> {
        let n = self.whole.get(level)?.len();
        if v == DEEP {
            n.checked_sub(1)
        } else {
            Some(usize::from(v)).filter(|s| s + 1 < n)
        }
    }

    /// The chunk at `level` of the region at `lo` (top 64 bits) one level up, covered by
    /// `cover`, holding the prefixes `inner` (longer than the region, up to /48, in
    /// address order) and the deep /48s `deep`.
    fn chunk(
        &mut self,
        level: usize,
        lo: u64,
        cover: u16,
        inner: &[Short],
        deep: &[u64],
    ) -> Option<u16> {
        let cell = *LEVELS.get(level)?;
        let cell_len = u8::try_from(cell).ok()?;
        let shift = 64 - cell;
        let mut covers = [cover; CHUNK];
        paint(
            &mut covers,
            lo,
            cell - 8,
            inner.iter().filter(|p| p.1 <= cell_len),
        );
        // First the cells that longer prefixes or deep /48s divide, in order, each once.
        let mut chunk = covers;
        let mut divided = [false; CHUNK];
        let (mut si, mut di) = (0, 0);
        loop {
            while inner.get(si).is_some_and(|p| p.1 <= cell_len) {
                si += 1;
            }
            let glo = match (inner.get(si), deep.get(di)) {
                (None, None) => break,
                (Some(p), None) => p.0,
                (None, Some(d)) => *d,
                (Some(p), Some(d)) => p.0.min(*d),
            } >> shift
                << shift;
            let ghi = glo | (u64::MAX >> cell);
            let s0 = si;
            while inner.get(si).is_some_and(|p| p.0 <= ghi) {
                si += 1;
            }
            let d0 = di;
            while deep.get(di).is_some_and(|d| *d <= ghi) {
                di += 1;
            }
            let g = ((glo.wrapping_sub(lo) >> shift) & 0xff) as usize;
            let c = *covers.get(g)?;
            let longs = inner.get(s0..si)?;
            let deeps = deep.get(d0..di)?;
            *chunk.get_mut(g)? = match level {
                // No prefix is longer than a /48 cell: a deep /48 divides it.
                L48 => DEEP,
                L32 => DEEP | self.chunk(level + 1, glo, c, longs, deeps)?,
                _ => self.chunk(level + 1, glo, c, longs, deeps)?,
            };
            *divided.get_mut(g)? = true;
        }
        // Then every other cell: its cover's value, or the next level's chunk of it, looked
        // up once per run of one cover (and only for a cover some such cell has, so that no
        // chunk is stored that nothing points to).
        if level != L32 && level != L48 {
            let mut run = (0, 0);
            for (e, _) in chunk.iter_mut().zip(divided).filter(|(_, d)| !d) {
                if *e != run.0 {
                    run = (*e, self.whole(level + 1, *e)?);
                }
                *e = run.1;
            }
        }
        self.push(level, &chunk)
    }
}

/// The value a /16's entry marked by [`PAINTED`] stands for (0 for 0).
fn painted(e: u16) -> u16 {
    match e {
        PAINTED => DEEP,
        _ => e & !PAINTED,
    }
}

/// Paints `cells` (the 2^k regions of length `depth + k` that tile the region of length
/// `depth` at `lo`, as top 64 bits) with the values of `prefixes`, which lie in the region,
/// are longer than `depth` (any length when `depth` is 0) and no longer than a cell, in
/// address order, shorter first among prefixes that start together: a later prefix inside
/// an earlier one overwrites it, so each cell ends with its longest prefix's value.
fn paint<'p>(cells: &mut [u16], lo: u64, depth: u32, prefixes: impl Iterator<Item = &'p Short>) {
    let k = cells.len().trailing_zeros();
    let cell_len = depth + k;
    for &(a, len, v) in prefixes {
        let len = u32::from(len);
        if len > cell_len {
            continue;
        }
        // The prefix's first cell, and how many cells it spans.
        let first = (a.wrapping_sub(lo) >> (64 - cell_len)) as usize;
        let n = 1usize << (cell_len - len.max(depth));
        if let Some(c) = cells.get_mut(first..first.saturating_add(n)) {
            c.fill(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::entry::List;
    use crate::format::mix64;
    use crate::table::tests::{agrees_with_trie, table};

    /// Prefixes of every length from /12 to /64 (so more lengths than the per-length
    /// tables take), nested in each other and across the lists, in a few /16s and spread
    /// over 2000::/3, and some hosts.
    fn prefix_list(n: u64, hosts: u64) -> Vec<(List, String)> {
        let mut out = Vec::new();
        for i in 0..n {
            let r = mix64(i);
            let len = 12 + (r % 53) as u32;
            let top = if r & 0x100 != 0 {
                0x2001
            } else {
                0x2000 | (r >> 48) as u128 & 0x1fff
            };
            let addr = ((top << 112) | (u128::from(mix64(r)) << 48)) & (u128::MAX << (128 - len));
            let list =
                [List::Global, List::Global, List::Blocked, List::Approved][(r >> 8) as usize % 4];
            out.push((list, format!("{}/{len}", Ipv6Addr::from(addr))));
        }
        for i in 0..hosts {
            let r = mix64(i ^ 0xf00d);
            let a = (0x2001u128 << 112) | (u128::from(r) << 40);
            out.push((List::Global, format!("{}/128", Ipv6Addr::from(a))));
        }
        out
    }

    /// The expansion's answer equals the trie's, with and without hosts, on a list of many
    /// lengths and on a small one; such a table gets it in place of the other indexes.
    #[test]
    #[cfg_attr(miri, ignore = "2^16 /16s: too slow interpreted")]
    fn agrees_with_the_trie_lookup() {
        for (n, hosts) in [(6000, 0), (6000, 500), (30, 3)] {
            let t = table(&prefix_list(n, hosts));
            let flat = Flat6::build(t.layout(), MAX_CHUNKS).unwrap();
            agrees_with_trie(&t, None, None, Some(&flat), 16);
            agrees_with_trie(&t, None, None, Some(&flat), 32);
            assert!(t.v6_groups.is_none() && t.v6_lengths.is_none());
            assert!(t.v6_flat.is_some());
        }
    }

    /// A /12 spans sixteen /16s, which share one /24-level chunk; a /20 spans sixteen /24s,
    /// which share one /32-level chunk; a /16 no prefix meets is chunk 0, all "no list";
    /// a /32 holding a /48 or a host goes down to the /48 level, where the host's /48 is
    /// `DEEP`; the chunk bound and the host bound are kept.
    #[test]
    #[cfg_attr(miri, ignore = "2^16 /16s: too slow interpreted")]
    fn shares_chunks_and_keeps_its_bounds() {
        let entries = [
            (List::Global, "2400::/12"),
            (List::Global, "2a00::/20"),
            (List::Blocked, "2a00:0:5::/48"),
            (List::Global, "2a01:10::/29"),
            (List::Global, "2a02:0:0:1::1/128"),
        ];
        let t = table(&entries);
        let x = Flat6::build(t.layout(), MAX_CHUNKS).unwrap();
        // The chunk numbers at the /24 and /32 levels and the /32's entry; below a deep
        // /32, the /48's entry.
        let word = |a: &str| {
            let a = (u128::from(a.parse::<Ipv6Addr>().unwrap()) >> 64) as u64;
            let m = x.first[(a >> 48) as usize];
            let l = x.entry(0, m, a);
            let v = x.entry(L32, l, a);
            (m, l, v)
        };
        let deeper = |a: &str| {
            let (_, _, v) = word(a);
            assert!(v & DEEP != 0 && v != DEEP, "{a}");
            let a = (u128::from(a.parse::<Ipv6Addr>().unwrap()) >> 64) as u64;
            x.entry(L48, x.entry(L32 + 1, v & !DEEP, a), a)
        };
        let (m, l, v) = word("2400::1");
        assert!(m != 0 && l != 0 && v != 0 && v & DEEP == 0);
        assert_eq!(word("240f:ffff::"), (m, l, v));
        assert!(
            x.levels[0][usize::from(m) * CHUNK..][..CHUNK]
                .iter()
                .all(|e| *e == l)
        );
        assert_eq!(word("2410::"), (0, 0, 0));
        assert!(x.levels.iter().all(|l| l[..CHUNK].iter().all(|e| *e == 0)));
        let (_, l20, v20) = word("2a00:100::");
        assert!(v20 != 0 && v20 & DEEP == 0);
        assert_eq!(word("2a00:f00::").1, l20);
        assert_eq!(word("2a00:2::").2, v20);
        let v48 = deeper("2a00:0:5::");
        assert!(v48 != 0 && v48 != v20 && v48 & DEEP == 0);
        assert_eq!(deeper("2a00:0:4::"), v20);
        assert_eq!(deeper("2a00:0:6:ffff::"), v20);
        assert_eq!(deeper("2a02:0:0:1::"), DEEP);
        assert_eq!(deeper("2a02:0:1::"), 0);
        assert_eq!(word("2a02:1::").2, 0);
        assert_ne!(word("2a01:17::").2, 0);
        assert_eq!(word("2a01:18::").2, 0);
        agrees_with_trie(&t, None, None, Some(&x), 16);
        // /24 level: 0, the /12's, the 2a00, 2a01 and 2a02 /16s'. /32 level: 0, the /12's,
        // the /20's, the /24s holding the /48, the /29 and the host. /40 level: 0, the /32s
        // holding the /48 and the host. /48 level: 0, the /20's, the /40s holding the /48
        // and the host.
        let counts = x.levels.each_ref().map(|l| l.len() / CHUNK);
        assert_eq!(counts, [5, 6, 3, 4]);
        assert!(Flat6::build(t.layout(), 18).is_some());
        assert!(Flat6::build(t.layout(), 17).is_none());

        // No more prefix entries than hosts: no expansion.
        let hosts = [(List::Global, "2400::/12"), (List::Global, "2a02::1/128")];
        assert!(Flat6::build(table(&hosts).layout(), MAX_CHUNKS).is_none());
    }

    /// A cell that a longer prefix divides gets its own chunk and no whole chunk of its
    /// cover beside it: a /24 holding a /32 of another list takes one chunk at the /32
    /// level (the /24's whole chunk would be stored but never read), so the table fits in
    /// six chunks, the four chunks 0 among them. Likewise a /16 that a /24 of another list
    /// divides takes its own chunk and no whole chunk of its /16 prefix: seven in all.
    #[test]
    fn divided_cells_take_no_whole_chunk() {
        // Each table's entries, and its chunks per level.
        type Case<'a> = (&'a [(List, &'a str)], [usize; 4]);
        let cases: [Case<'_>; 2] = [
            (
                &[
                    (List::Global, "2001:d00::/24"),
                    (List::Blocked, "2001:db8::/32"),
                ],
                [2, 2, 1, 1],
            ),
            // The same a level up: a /16 that a /24 of another list divides.
            (
                &[(List::Global, "2000::/16"), (List::Blocked, "2000::/24")],
                [2, 3, 1, 1],
            ),
        ];
        for (entries, want) in cases {
            let t = table(entries);
            let x = Flat6::build(t.layout(), MAX_CHUNKS).unwrap();
            let counts = x.levels.each_ref().map(|l| l.len() / CHUNK);
            assert_eq!(counts, want, "{entries:?}");
            let total: usize = want.iter().sum();
            assert!(Flat6::build(t.layout(), total).is_some());
            assert!(Flat6::build(t.layout(), total - 1).is_none());
            agrees_with_trie(&t, None, None, Some(&x), 16);
        }
    }

    /// The IPv4 and IPv6 blocks of three countries (as `../shared/data` holds them): each
    /// family gets its expansion, which agrees with the trie.
    #[test]
    #[cfg_attr(miri, ignore = "thousands of entries: too slow interpreted")]
    fn country_blocks_get_both_expansions() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/ipverse-country-ip-blocks/country");
        // The data lies beside the repository, not in the package.
        if !dir.is_dir() {
            eprintln!("skipped: {} is not there", dir.display());
            return;
        }
        let mut entries = Vec::new();
        for c in ["cn", "ru", "ir"] {
            for fam in ["ipv4-aggregated.txt", "ipv6-aggregated.txt"] {
                let text = std::fs::read_to_string(dir.join(c).join(fam)).unwrap();
                entries.extend(
                    text.lines()
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(|l| (List::Global, l.to_string())),
                );
            }
        }
        let t = table(&entries);
        assert!(t.layout().v6.entries.len() > 4_000);
        assert!(t.v6_flat.is_some());
        assert!(t.v4_flat.as_ref().is_some_and(|f| f.is_expanded()));
        agrees_with_trie(&t, None, None, t.v6_flat.as_ref(), 32);
    }
}
