//! Single IPv6 lookups for lists made of prefixes: the table expanded to three levels down
//! to /32.
//!
//! IPv6 country blocks and provider ranges are thousands of prefixes of many lengths
//! (mostly /29 and /32 allocations, some /48 sites): too many for the prefix groups, too
//! many lengths for the per-length tables. In the trie their hits walk four to six nodes
//! below a 16-bit direct table, behind a summary whose blocks are wide enough that most
//! addresses in a listed region pass it, so mixed traffic pays a mispredicted branch and a
//! walk per listed address.
//!
//! Such a table also gets, at load, the **expansion**: for each /16 a 16-bit number of a
//! mid chunk; per mid chunk, for each of the /16's 256 /24s, the number of a last chunk;
//! per last chunk, for each of the /24's 256 /32s, a 16-bit tuple index, or [`DEEP`]
//! where a prefix longer than /32 or a host lies in that /32. Chunk 0 of each level stands
//! for "no list", and a region inside one prefix (a /16 in a /12, a /24 in a /20) shares
//! one chunk per answer, so a chunk is stored only for a /16 or /24 that prefixes divide.
//!
//! A lookup reads its /16's mid chunk number (the 2000::/3 part of the array is 16 KiB,
//! kept cached by the traffic that reads it). Mid chunk 0, a /16 that no entry meets, is
//! the answer "no list" at once: most addresses stop there, and the branch on it is
//! predicted where most traffic is on no list. Past it, a lookup reads two more words
//! without a branch on whether the address is listed, and takes the trie lookup only for
//! a `DEEP` entry. (Reading all three words for every address, with no branch at all, ran
//! traffic of half listed addresses faster, 2.2–2.8 times poptrie's rate instead of 1.8,
//! but uniform traffic at 1.1–1.6 times instead of 2.2–2.4.)
//!
//! Each prefix's answer comes from the entries and the tuples (`answers`), as for the
//! other IPv6 indexes; a prefix whose answer the table does not hold (every address of it
//! lies in longer prefixes) is `DEEP`, so its addresses ask the trie.

use super::answers::prefix_answers;
use super::{NO_TUPLE, find};
use crate::format::validate::{Fam, Layout};
use crate::format::{RawTuple, V6};

/// A last-chunk entry whose lookup takes the trie's way.
const DEEP: u16 = 1 << 15;

/// Entries per chunk: the /24s of a /16, or the /32s of a /24.
const CHUNK: usize = 256;

/// The most chunks of each level: 16384 of 512 bytes, 8 MiB.
pub(crate) const MAX_CHUNKS: usize = 1 << 14;

/// An IPv6 family expanded to three levels down to /32 (see the module).
pub(crate) struct Flat6 {
    first: Box<[u16; 1 << 16]>,
    mid: Vec<u16>,
    last: Vec<u16>,
}

/// A prefix no longer than /32, as its top 32 bits, length and value (a tuple or
/// [`DEEP`]).
type Short = (u32, u8, u16);

impl Flat6 {
    /// The expansion of `layout`'s IPv6 family, or `None` where it does not fit: a family
    /// with no more prefix entries than hosts, more than 32,768 tuples, prefixes whose
    /// answers the tuples cannot give, or more than `max_chunks` chunks at a level.
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
        // The /32s that hold a longer prefix or a host, in order.
        let mut deep: Vec<u32> = answers
            .iter()
            .filter(|p| p.1 > 32)
            .map(|p| (p.0 >> 96) as u32)
            .chain(fam.hosts().map(|(h, _)| (h >> 96) as u32))
            .collect();
        deep.sort_unstable();
        deep.dedup();
        // The prefixes up to /32, in address order, shorter first where they start
        // together: a prefix comes before the prefixes inside it.
        let short: Vec<Short> = answers
            .iter()
            .filter(|p| p.1 <= 32)
            .map(|p| ((p.0 >> 96) as u32, p.1, value(p.2)))
            .collect();
        let mut b = Builder {
            mid: vec![0; CHUNK],
            last: vec![0; CHUNK],
            whole_mid: vec![0; usize::from(DEEP) + 1],
            whole_last: vec![0; usize::from(DEEP) + 1],
            max_chunks,
        };
        // Each /16's covering value, from the prefixes up to /16.
        let mut cover16 = vec![0u16; 1 << 16];
        paint(&mut cover16, 0, 0, short.iter().filter(|p| p.1 <= 16));
        let mut first = vec![0u16; 1 << 16];
        let (mut si, mut di) = (0, 0);
        for (h, f) in first.iter_mut().enumerate() {
            let lo = (h as u32) << 16;
            let hi = lo | 0xffff;
            // This /16's prefixes longer than /16, and its deep /32s.
            while short.get(si).is_some_and(|p| p.0 < lo || p.1 <= 16) {
                si += 1;
            }
            let s0 = si;
            while short.get(si).is_some_and(|p| p.0 <= hi) {
                si += 1;
            }
            let d0 = di;
            while deep.get(di).is_some_and(|d| *d <= hi) {
                di += 1;
            }
            let cover = *cover16.get(h)?;
            let inner = short.get(s0..si)?;
            let deeps = deep.get(d0..di)?;
            *f = if inner.is_empty() && deeps.is_empty() {
                b.whole_mid(cover)?
            } else {
                b.mid_chunk(lo, cover, inner, deeps)?
            };
        }
        Some(Flat6 {
            first: first.into_boxed_slice().try_into().ok()?,
            mid: b.mid,
            last: b.last,
        })
    }

    /// The tuple of `key`: the /16's mid chunk number, and for a /16 some entry meets, two
    /// more loads and the trie lookup for a [`DEEP`] entry.
    #[inline(always)]
    pub(crate) fn find<'a>(&self, fam: &Fam<'a, V6>, key: u128) -> &'a RawTuple {
        let a = (key >> 96) as u32;
        let m = usize::from(self.first[(a >> 16) as usize]);
        if m == 0 {
            return &NO_TUPLE;
        }
        let l = self
            .mid
            .get((m << 8) | ((a >> 8) & 0xff) as usize)
            .map_or(0, |v| *v);
        let t = self
            .last
            .get((usize::from(l) << 8) | (a & 0xff) as usize)
            .map_or(0, |v| *v);
        if t & DEEP != 0 {
            return find(fam, true, key);
        }
        fam.tuples.get(usize::from(t)).unwrap_or(&NO_TUPLE)
    }
}

/// The chunks being built, with the shared chunk of each value.
struct Builder {
    mid: Vec<u16>,
    last: Vec<u16>,
    /// The mid or last chunk all of whose addresses take one value (0: none yet, but for
    /// value 0, whose chunks are chunk 0).
    whole_mid: Vec<u16>,
    whole_last: Vec<u16>,
    max_chunks: usize,
}

impl Builder {
    /// Appends `chunk` to `level`, and gives its number.
    fn push(level: &mut Vec<u16>, chunk: &[u16], max_chunks: usize) -> Option<u16> {
        let n = level.len() / CHUNK;
        if n >= max_chunks {
            return None;
        }
        level.extend_from_slice(chunk);
        u16::try_from(n).ok()
    }

    /// The last chunk of a /24 inside one value's region.
    fn whole_last(&mut self, v: u16) -> Option<u16> {
        let n = *self.whole_last.get(usize::from(v))?;
        if n != 0 || v == 0 {
            return Some(n);
        }
        let n = Self::push(&mut self.last, &[v; CHUNK], self.max_chunks)?;
        *self.whole_last.get_mut(usize::from(v))? = n;
        Some(n)
    }

    /// The mid chunk of a /16 inside one value's region.
    fn whole_mid(&mut self, v: u16) -> Option<u16> {
        let n = *self.whole_mid.get(usize::from(v))?;
        if n != 0 || v == 0 {
            return Some(n);
        }
        let l = self.whole_last(v)?;
        let n = Self::push(&mut self.mid, &[l; CHUNK], self.max_chunks)?;
        *self.whole_mid.get_mut(usize::from(v))? = n;
        Some(n)
    }

    /// The mid chunk of the /16 at `lo` (top 32 bits), covered by `cover`, holding the
    /// prefixes `inner` (/17 to /32, in address order) and the deep /32s `deep`.
    fn mid_chunk(&mut self, lo: u32, cover: u16, inner: &[Short], deep: &[u32]) -> Option<u16> {
        let mut cover24 = [cover; CHUNK];
        paint(&mut cover24, lo, 16, inner.iter().filter(|p| p.1 <= 24));
        let mut chunk = [0u16; CHUNK];
        let (mut si, mut di) = (0, 0);
        for (g, e) in chunk.iter_mut().enumerate() {
            let glo = lo | ((g as u32) << 8);
            let ghi = glo | 0xff;
            while inner.get(si).is_some_and(|p| p.0 < glo || p.1 <= 24) {
                si += 1;
            }
            let s0 = si;
            while inner.get(si).is_some_and(|p| p.0 <= ghi) {
                si += 1;
            }
            while deep.get(di).is_some_and(|d| *d < glo) {
                di += 1;
            }
            let d0 = di;
            while deep.get(di).is_some_and(|d| *d <= ghi) {
                di += 1;
            }
            let c = cover24[g];
            let longs = inner.get(s0..si)?;
            let deeps = deep.get(d0..di)?;
            *e = if longs.is_empty() && deeps.is_empty() {
                self.whole_last(c)?
            } else {
                let mut last = [c; CHUNK];
                paint(&mut last, glo, 24, longs.iter());
                for d in deeps {
                    if let Some(x) = last.get_mut((d & 0xff) as usize) {
                        *x = DEEP;
                    }
                }
                Self::push(&mut self.last, &last, self.max_chunks)?
            };
        }
        Self::push(&mut self.mid, &chunk, self.max_chunks)
    }
}

/// Paints `cells` (the 2^k blocks of length `depth + k` that tile the region of length
/// `depth` starting at `lo`, as top 32 bits) with the values of `prefixes`, which lie in
/// the region, are at least `depth + 1` long (or any length when `depth` is 0) and at most
/// a cell's, in address order, shorter first among prefixes that start together: a later
/// prefix inside an earlier one overwrites it, so each cell ends with its longest
/// prefix's value.
fn paint<'p>(cells: &mut [u16], lo: u32, depth: u32, prefixes: impl Iterator<Item = &'p Short>) {
    let k = cells.len().trailing_zeros();
    let cell_len = depth + k;
    for &(a, len, v) in prefixes {
        let len = u32::from(len);
        if len > cell_len {
            continue;
        }
        // The prefix's first cell, and how many cells it spans.
        let first = (a.wrapping_sub(lo) >> (32 - cell_len)) as usize;
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

    /// A /12 spans sixteen /16s, which share one mid chunk; a /20 spans sixteen /24s, which
    /// share one last chunk; a /16 no prefix meets is chunk 0, all "no list"; a /32 holding
    /// a /48 or a host is `DEEP`, and only it; the chunk bound and the host bound are kept.
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
        let word = |a: &str| {
            let a = (u128::from(a.parse::<Ipv6Addr>().unwrap()) >> 96) as u32;
            let m = usize::from(x.first[(a >> 16) as usize]);
            let l = usize::from(x.mid[m * CHUNK + ((a >> 8) & 0xff) as usize]);
            (m, l, x.last[l * CHUNK + (a & 0xff) as usize])
        };
        let (m, l, v) = word("2400::1");
        assert!(m != 0 && l != 0 && v != 0 && v & DEEP == 0);
        assert_eq!(word("240f:ffff::"), (m, l, v));
        assert!(
            x.mid[m * CHUNK..][..CHUNK]
                .iter()
                .all(|e| usize::from(*e) == l)
        );
        assert_eq!(word("2410::"), (0, 0, 0));
        assert!(x.mid[..CHUNK].iter().all(|e| *e == 0));
        assert!(x.last[..CHUNK].iter().all(|e| *e == 0));
        let (_, l20, v20) = word("2a00:100::");
        assert!(v20 != 0 && v20 & DEEP == 0);
        assert_eq!(word("2a00:f00::").1, l20);
        assert_eq!(word("2a00:0:5::").2, DEEP);
        assert_eq!(word("2a00:0:4::").2, DEEP);
        assert_eq!(word("2a00:2::").2, v20);
        assert_eq!(word("2a02::").2, DEEP);
        assert_eq!(word("2a02:1::").2, 0);
        assert_ne!(word("2a01:17::").2, 0);
        assert_eq!(word("2a01:18::").2, 0);
        agrees_with_trie(&t, None, None, Some(&x), 16);
        // Mid chunks: 0, the /12's, the 2a00 /16's, the 2a01's, the 2a02's. Last chunks:
        // 0, the /12's, the /20's, and the /24s holding the /48, the /29 and the host.
        assert_eq!(x.mid.len() / CHUNK, 5);
        assert_eq!(x.last.len() / CHUNK, 6);
        assert!(Flat6::build(t.layout(), 6).is_some());
        assert!(Flat6::build(t.layout(), 5).is_none());

        // No more prefix entries than hosts: no expansion.
        let hosts = [(List::Global, "2400::/12"), (List::Global, "2a02::1/128")];
        assert!(Flat6::build(table(&hosts).layout(), MAX_CHUNKS).is_none());
    }

    /// The IPv4 and IPv6 blocks of three countries (as `../shared/data` holds them): each
    /// family gets its expansion, which agrees with the trie.
    #[test]
    #[cfg_attr(miri, ignore = "thousands of entries: too slow interpreted")]
    fn country_blocks_get_both_expansions() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/ipverse-country-ip-blocks/country");
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
