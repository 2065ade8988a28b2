//! Builds one family's leaf-pushed multibit trie and its host hash table.
//!
//! The trie holds every prefix shorter than a host (`/0`–`/31`, `/0`–`/127`). Each leaf
//! stores a *tuple*: for each of the three lists, the longest prefix of that list covering
//! the leaf's addresses, computed here once so that a lookup reads it in one step. Hosts
//! (`/32`, `/128`) live in a bucketed hash table instead, where they cost a few bytes each.

use std::collections::VecDeque;
use std::ops::Range;

use super::hash::Map;
use crate::format::writer::FamilyParts;
use crate::format::{
    Family, HOST_EMPTY, HOST_FLAG, LEAF_FLAG, NONE, RawNode, RawTuple, STRIDE, filter_probe,
    mark_host, mark_prefix,
};
use crate::prefetch::prefetch;

/// A non-host prefix, address left-aligned in a `u128`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pfx {
    pub(crate) addr: u128,
    pub(crate) len: u8,
    pub(crate) list: u8,
    pub(crate) entry: u32,
}

/// The direct table's width for a family with `n` trie prefixes, `wide` for an IPv4
/// family with more prefix entries than host entries.
///
/// A list of prefixes (country blocks, provider ranges, DROP) has most of them between /16
/// and /24, and its lookups read the direct slot and the one node below it without a
/// branch (the table's `flat` lookup): under an 18-bit direct table a /24 lies one node
/// down, under a 16-bit one two, the second behind a branch that mispredicts on about
/// every other hit. So such a list gets the 18-bit table from 512 prefixes on (1 MiB, where
/// the 16-bit one is 256 KiB): on FireHOL level 1 with Spamhaus DROP (2,791 prefixes),
/// prefix hits ran 74 → 130 million a second and mixed traffic 74 → 96.
pub(crate) fn direct_bits(n: usize, wide: bool) -> u8 {
    match n {
        0..64 => 8,
        64..512 => 12,
        512..8192 if !wide => 16,
        _ => 18,
    }
}

/// Painted state of one slot: per list, (prefix length + 1, entry), 0 meaning inherited.
type Paint = [(u8, u32); 3];

struct Job {
    /// The node's path: the left-aligned address bits above it.
    addr: u128,
    /// Bits already consumed above this node.
    base_len: u32,
    /// Per list, the entry inherited from above (or `NONE`).
    inherited: [u32; 3],
    /// Entries whose address lies in this node's span.
    range: Range<usize>,
}

/// Fills `parts.direct`, `nodes`, `leaves` and `tuples` from `pfx`, sorted by
/// (address, length, list). Returns each node's path and bit offset, in node order.
pub(crate) fn build_trie<F: Family>(
    pfx: &[Pfx],
    hosts: usize,
    parts: &mut FamilyParts<F>,
) -> Vec<(u128, u32)> {
    let mut paths = Vec::new();
    let d = u32::from(direct_bits(pfx.len(), F::BITS == 32 && pfx.len() > hosts));
    parts.direct_bits = d as u8;
    let mut tuples: Map<[u32; 3], u32> = Map::default();
    // Neighbouring slots mostly repeat a tuple: check the last one before hashing.
    let mut last = ([NONE; 3], 0u32);
    let mut tuple_id = |t: [u32; 3], out: &mut Vec<RawTuple>| -> u32 {
        if last.0 == t && !out.is_empty() {
            return last.1;
        }
        let id = *tuples.entry(t).or_insert_with(|| {
            out.push(RawTuple(t.map(Into::into)));
            (out.len() - 1) as u32
        });
        last = (t, id);
        id
    };
    // Tuple 0 is always "no match anywhere".
    tuple_id([NONE; 3], &mut parts.tuples);

    let mut queue = VecDeque::new();
    // The root: prefixes of length 0 are inherited by every slot of the direct table.
    let mut root_inherited = [NONE; 3];
    for p in pfx.iter().filter(|p| p.len == 0) {
        root_inherited[usize::from(p.list)] = p.entry;
    }
    let root = Job {
        addr: 0,
        base_len: 0,
        inherited: root_inherited,
        range: 0..pfx.len(),
    };
    let mut paint = Vec::new();
    let mut children = Vec::new();
    expand(&root, d, pfx, &mut paint, &mut children);
    let mut next_node = 0u32;
    let mut child_iter = children.iter().peekable();
    parts.direct = Vec::with_capacity(1 << d);
    for (slot, p) in paint.iter().enumerate() {
        if child_iter.peek().is_some_and(|(s, _)| *s == slot) {
            let (_, range) = child_iter.next().cloned().unwrap_or((slot, 0..0));
            parts.direct.push(next_node);
            next_node += 1;
            queue.push_back(Job {
                addr: (slot as u128) << (128 - d),
                base_len: d,
                inherited: p.map(|x| x.1),
                range,
            });
        } else {
            parts
                .direct
                .push(LEAF_FLAG | tuple_id(p.map(|x| x.1), &mut parts.tuples));
        }
    }

    while let Some(job) = queue.pop_front() {
        paths.push((job.addr, job.base_len));
        expand(&job, STRIDE, pfx, &mut paint, &mut children);
        let mut node = RawNode {
            children: 0.into(),
            leaf_runs: 0.into(),
            base_leaf: (parts.leaves.len() as u32).into(),
            base_child: next_node.into(),
        };
        let (mut child_bits, mut run_bits) = (0u64, 0u64);
        let mut child_iter = children.iter().peekable();
        let mut prev: Option<u32> = None;
        for (slot, p) in paint.iter().enumerate() {
            if child_iter.peek().is_some_and(|(s, _)| *s == slot) {
                let (_, range) = child_iter.next().cloned().unwrap_or((slot, 0..0));
                child_bits |= 1 << slot;
                next_node += 1;
                queue.push_back(Job {
                    addr: job.addr | ((slot as u128) << (128 - job.base_len - STRIDE)),
                    base_len: job.base_len + STRIDE,
                    inherited: p.map(|x| x.1),
                    range,
                });
            } else {
                let t = tuple_id(p.map(|x| x.1), &mut parts.tuples);
                if prev != Some(t) {
                    run_bits |= 1 << slot;
                    parts.leaves.push(t);
                    prev = Some(t);
                }
            }
        }
        node.children = child_bits.into();
        node.leaf_runs = run_bits.into();
        if child_bits == 0 {
            node.base_child = 0.into();
        }
        parts.nodes.push(node);
    }
    paths
}

/// Paints the `2^stride` slots of `job`'s node and lists the slots that need a child node.
fn expand(
    job: &Job,
    stride: u32,
    pfx: &[Pfx],
    paint: &mut Vec<Paint>,
    children: &mut Vec<(usize, Range<usize>)>,
) {
    let inherited: Paint = job.inherited.map(|e| (0, e));
    paint.clear();
    paint.resize(1 << stride, inherited);
    children.clear();
    let span_end = job.base_len + stride;
    let slot_of = |addr: u128| -> usize { ((addr << job.base_len) >> (128 - stride)) as usize };
    let mut i = job.range.start;
    while i < job.range.end {
        let p = pfx[i];
        let len = u32::from(p.len);
        if len <= job.base_len {
            // Covers the whole node: already part of `inherited`.
            i += 1;
            continue;
        }
        let slot = slot_of(p.addr);
        if len <= span_end {
            let count = 1usize << (span_end - len);
            let key = (p.len + 1, p.entry);
            for cell in &mut paint[slot..slot + count] {
                let cell = &mut cell[usize::from(p.list)];
                if cell.0 < key.0 {
                    *cell = key;
                }
            }
            i += 1;
        } else {
            // Longer than this node: it and every later entry in the same slot go to one
            // child. Sorting by (address, length) puts any shorter prefix that paints this
            // slot before them, so nothing that paints here is skipped.
            let start = i;
            while i < job.range.end && slot_of(pfx[i].addr) == slot {
                debug_assert!(u32::from(pfx[i].len) > span_end);
                i += 1;
            }
            children.push((slot, start..i));
        }
    }
}

/// The host table's target load: slots filled per slot allocated.
const HOST_LOAD: f64 = 0.86;

/// Cuckoo displacements tried for one insertion before the build gives up on a size. At
/// 500, a million hosts did not fit at the target load and the table grew by a sixteenth
/// (half a megabyte); displacement chains near the target load are long but rare, so the
/// larger bound costs little time.
const MAX_KICKS: u32 = 5000;

/// How many hosts ahead [`cuckoo`] asks for the buckets it will fill.
const PLACE_PREFETCH: usize = 8;

/// Places distinct `(key, value)` pairs (hosts, or jump paths) in buckets of `F::BUCKET`
/// slots, each key in one of its two candidate buckets (cuckoo hashing), so a lookup reads
/// two fixed-size buckets and nothing else. `None` when they could not be placed at any
/// size up to twice the target; the caller then tries another seed.
pub(crate) fn place<F: Family>(hosts: &[(F::Int, u32)], seed: u32) -> Option<Vec<F::RawBucket>> {
    if hosts.is_empty() {
        return Some(Vec::new());
    }
    let target = (hosts.len() as f64 / (F::BUCKET as f64 * HOST_LOAD)).ceil() as usize;
    let mut n = target.max(1);
    while n <= target.saturating_mul(2) {
        if let Some(slots) = cuckoo::<F>(hosts, seed, n) {
            return Some(slots.chunks(F::BUCKET).map(F::make_bucket).collect());
        }
        n += n / 16 + 1;
    }
    None
}

/// Places every host in `n` buckets, or `None` if a displacement chain runs too long.
/// Returns the `n * F::BUCKET` slots, bucket by bucket, a key beside its value (so that an
/// IPv4 bucket, 16 bytes, is one cache line to fetch, not two); empty slots hold
/// `HOST_EMPTY`.
fn cuckoo<F: Family>(hosts: &[(F::Int, u32)], seed: u32, n: usize) -> Option<Vec<(F::Int, u32)>> {
    let mut slots = vec![(F::Int::default(), HOST_EMPTY); n * F::BUCKET];
    // A fixed xorshift stream picks victims, so the output is deterministic.
    let mut rng = 0x2545_f491_4f6c_dd1du64 ^ u64::from(seed);
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for (at, &(key, value)) in hosts.iter().enumerate() {
        // The two buckets of a host are random in memory: ask for those of a host further
        // on, so that the cache misses of several hosts overlap.
        if let Some(&(ahead, _)) = hosts.get(at.wrapping_add(PLACE_PREFETCH)) {
            let (b1, b2) = F::buckets(ahead, seed, n);
            for b in [b1, b2] {
                if let Some(s) = slots.get(b * F::BUCKET) {
                    prefetch(s);
                }
            }
        }
        let (mut key, mut value) = (key, value);
        let mut placed = false;
        for _ in 0..MAX_KICKS {
            let (b1, b2) = F::buckets(key, seed, n);
            let free = [b1, b2].into_iter().find_map(|b| {
                (b * F::BUCKET..(b + 1) * F::BUCKET).find(|&i| slots[i].1 == HOST_EMPTY)
            });
            if let Some(i) = free {
                slots[i] = (key, value);
                placed = true;
                break;
            }
            // Both full: evict a pseudo-random slot of one of them and re-place its host.
            let r = next();
            let b = if r & 1 == 0 { b1 } else { b2 };
            let i = b * F::BUCKET + (r >> 1) as usize % F::BUCKET;
            (key, value) = std::mem::replace(&mut slots[i], (key, value));
        }
        if !placed {
            return None;
        }
    }
    Some(slots)
}

/// The summary's width for a family with `n` prefixes and hosts: about 64 blocks per entry,
/// from 2^10 blocks up to 2^20 for IPv4 (256 KiB, all of it reached by IPv4 traffic) and
/// 2^23 for IPv6 (2 MiB, of which IPv6 traffic, all in 2000::/3, reaches one eighth), so
/// that the part lookups touch stays in a core's cache. An IPv4 list of more than 2^18
/// entries gets 2^21 blocks (512 KiB): at 2^20 nearly half of its blocks would hold an entry
/// (48 % on a host-heavy list of a million, against 35 % at 2^21), and random addresses
/// there would go on to the filter; its 256 KiB more are paid for by filling the host
/// buckets to their target load (see [`MAX_KICKS`]). On lists of about 100k entries the
/// larger summary slowed mixed traffic by 3–5 %, as it takes cache the hits need.
pub(crate) fn summary_bits<F: Family>(n: usize) -> u8 {
    let log = usize::BITS - n.max(1).saturating_sub(1).leading_zeros();
    let max = match F::BITS {
        32 if n > 1 << 18 => 21,
        32 => 20,
        _ => 23,
    };
    (log + 6).clamp(10, max) as u8
}

/// Fills `parts.summary`: two bits per block (the top `summary_bits` address bits), bit
/// `2i` set when some prefix meets block `i` (exactly when some trie leaf of the block has
/// a tuple other than 0), bit `2i + 1` when some host lies in it. `pfx` holds left-aligned
/// addresses.
pub(crate) fn build_summary<F: Family>(
    pfx: &[Pfx],
    hosts: &[(F::Int, u32)],
    parts: &mut FamilyParts<F>,
) {
    let s = summary_bits::<F>(pfx.len() + hosts.len());
    parts.summary_bits = s;
    let s = u32::from(s);
    let mut words = vec![0u64; 1 << (s - 5)];
    for p in pfx {
        mark_prefix(&mut words, p.addr, u32::from(p.len), s);
    }
    for (k, _) in hosts {
        mark_host::<F>(&mut words, *k, s, 1);
    }
    parts.summary = words;
}

/// Filter bits per host: with 3 bits set per host, a false positive rate near 4 %.
const FILTER_BITS_PER_HOST: usize = 8;

/// Fills `parts.filter` from the host keys, hashed with `seed`.
pub(crate) fn build_filter<F: Family>(
    hosts: &[(F::Int, u32)],
    seed: u32,
    parts: &mut FamilyParts<F>,
) {
    let n = (hosts.len() * FILTER_BITS_PER_HOST).div_ceil(64);
    let mut words = vec![0u64; n];
    for (k, _) in hosts {
        let (w, mask) = filter_probe(F::hash(*k, seed), n);
        words[w] |= mask;
    }
    parts.filter = words;
}

/// The trie's tuple at the left-aligned address `addr`.
fn tuple_at<F: Family>(parts: &FamilyParts<F>, addr: u128) -> [u32; 3] {
    parts.tuples[tuple_id_at(parts, addr) as usize]
        .0
        .map(|e| e.get())
}

/// The index of the trie's tuple at the left-aligned address `addr`: the compiler's own
/// walk over the parts it just built (as the reader's, without the validation it does not
/// need).
fn tuple_id_at<F: Family>(parts: &FamilyParts<F>, addr: u128) -> u32 {
    let d = u32::from(parts.direct_bits);
    let mut v = parts.direct[(addr >> (128 - d)) as usize];
    let mut off = d;
    loop {
        if v & LEAF_FLAG != 0 {
            break v & !LEAF_FLAG;
        }
        let n = &parts.nodes[v as usize];
        let bit = 1u64 << ((addr << off) >> (128 - STRIDE)) as u32;
        let children = n.children.get();
        if children & bit != 0 {
            v = n.base_child.get() + (children & (bit - 1)).count_ones();
            off += STRIDE;
        } else {
            let rank = (n.leaf_runs.get() & (bit | (bit - 1))).count_ones();
            break parts.leaves[(n.base_leaf.get() + rank - 1) as usize];
        }
    }
}

/// Groups `hosts` (key, list, attribute) by address into host tuples: per list the host's
/// own entry (`HOST_FLAG | attr`) where it has one, else the trie's longest prefix entry
/// for the address. Fills `parts.host_tuples` (shared tuples stored once) and returns the
/// (key, host tuple index) pairs for the host table, one per distinct address.
pub(crate) fn host_tuples<F: Family>(
    hosts: &mut [(F::Int, u8, u32)],
    parts: &mut FamilyParts<F>,
) -> Vec<(F::Int, u32)> {
    sort_by_address::<F>(hosts);
    let mut ids: Map<[u32; 3], u32> = Map::default();
    let mut out = Vec::with_capacity(hosts.len());
    let mut last: Option<([u32; 3], u32)> = None;
    let mut i = 0;
    while i < hosts.len() {
        let key = hosts[i].0;
        let mut t = tuple_at(parts, F::to_u128(key));
        while i < hosts.len() && hosts[i].0 == key {
            t[usize::from(hosts[i].1)] = HOST_FLAG | hosts[i].2;
            i += 1;
        }
        // Most hosts of a list share one tuple: check the last one before hashing.
        let id = match last {
            Some((lt, id)) if lt == t => id,
            _ => *ids.entry(t).or_insert_with(|| {
                parts.host_tuples.push(RawTuple(t.map(Into::into)));
                (parts.host_tuples.len() - 1) as u32
            }),
        };
        last = Some((t, id));
        out.push((key, id));
    }
    out
}

/// Sorts `hosts` by address. Each list holds an address once, and [`host_tuples`] merges an
/// address's entries whatever their order, so the order among equal addresses does not
/// reach the output. From 4,096 IPv4 hosts on, they are sorted by four stable 8-bit counting
/// passes (a million took 26 ms in `sort_unstable`, the largest step of the host tuples);
/// fewer, and IPv6 hosts, by comparison.
fn sort_by_address<F: Family>(hosts: &mut [(F::Int, u8, u32)]) {
    if F::BITS != 32 || hosts.len() < 1 << 12 {
        hosts.sort_unstable_by_key(|h| h.0);
        return;
    }
    let key = |h: &(F::Int, u8, u32)| (F::to_u128(h.0) >> 96) as u32;
    let mut other = hosts.to_vec();
    // Four passes, each from one buffer into the other: the last lands in `hosts`.
    for shift in [0u32, 8, 16, 24] {
        let (from, to): (&[_], &mut [_]) = if shift % 16 == 0 {
            (hosts, &mut other)
        } else {
            (&other, hosts)
        };
        let digit = |h: &(F::Int, u8, u32)| (key(h) >> shift) as usize & 0xff;
        let mut at = [0usize; 256];
        for h in from {
            at[digit(h)] += 1;
        }
        let mut sum = 0;
        for a in &mut at {
            (*a, sum) = (sum, sum + *a);
        }
        for h in from {
            let d = digit(h);
            to[at[d]] = *h;
            at[d] += 1;
        }
    }
}

/// The fewest entries at a depth that make a jump table there worth its probe: below
/// that, the trie stays in a core's cache, where a walk step costs less than a hash probe.
const MIN_JUMP_ENTRIES: u64 = 64;

/// A jump depth must save at least this many node steps for each prefix counted (those
/// below the direct table with no longer prefix inside): every walk pays the probe,
/// whether the depth serves it or not.
const MIN_JUMP_SAVING: u64 = 2;

/// Picks a family's jump depth and returns it (0: no jump table) with the jump entries:
/// (path, value) pairs.
///
/// Walk costs are counted in node steps for one lookup into each prefix whose addresses
/// all map to one tuple (no longer prefix inside it): a `/L` entry's leaf lies in the node
/// at offset `o = d + 6⌊(L − 1 − d)/6⌋`, `(o − d)/6 + 1` steps below the direct table.
/// A jump table at depth `J` holds
///
/// - a **leaf entry** for every such prefix of length exactly `J`: its path to
///   `LEAF_FLAG | tuple`, the whole answer (0 steps);
/// - when `J` is a node offset (`d + 6k`), a **node entry** for every node there: its
///   path to its index, leaving `(o − J)/6 + 1` steps for the prefixes below it.
///
/// The depth chosen saves the most steps, among those with at least `MIN_JUMP_ENTRIES`
/// entries that save at least `MIN_JUMP_SAVING` steps for each prefix counted.
pub(crate) fn jumps<F: Family>(
    pfx: &[Pfx],
    paths: &[(u128, u32)],
    parts: &FamilyParts<F>,
    int: impl Fn(u128) -> F::Int,
) -> (u8, Vec<(F::Int, u32)>) {
    let d = u32::from(parts.direct_bits);
    let leaf_off = |len: u32| d + STRIDE * ((len - 1 - d) / STRIDE);
    let node_depth = |j: u32| j > d && (j - d).is_multiple_of(STRIDE);
    // The prefixes below the direct table whose region is uniform, by the index of their
    // first entry (entries of several lists with one prefix are one region).
    let mut uniform = Vec::new();
    let mut i = 0;
    while i < pfx.len() {
        let p = pfx[i];
        let mut next = i + 1;
        while next < pfx.len() && (pfx[next].addr, pfx[next].len) == (p.addr, p.len) {
            next += 1;
        }
        let len = u32::from(p.len);
        // Sorted by (address, length): a longer prefix inside this one comes next.
        let inside = pfx
            .get(next)
            .is_some_and(|q| len == 0 || (q.addr ^ p.addr) >> (128 - len) == 0);
        if len > d && !inside {
            uniform.push(i);
        }
        i = next;
    }
    let mut count = [0u64; 129];
    for &i in &uniform {
        count[usize::from(pfx[i].len)] += 1;
    }
    let mut nodes_at = [0u64; 129];
    for &(_, off) in paths {
        nodes_at[off as usize] += 1;
    }
    // Steps saved for `/len` by a walk that may start at depth `j`.
    let saved = |len: u32, j: u32| -> u64 {
        let steps = (leaf_off(len) - d) / STRIDE + 1;
        let left = if j == len {
            0
        } else if node_depth(j) && j <= leaf_off(len) {
            (leaf_off(len) - j) / STRIDE + 1
        } else {
            steps
        };
        u64::from(steps - left)
    };
    let min_saving = (uniform.len() as u64) * MIN_JUMP_SAVING;
    let best = (d + 1..F::BITS)
        .filter(|&j| {
            let nodes = if node_depth(j) {
                nodes_at[j as usize]
            } else {
                0
            };
            count[j as usize] + nodes >= MIN_JUMP_ENTRIES
        })
        .map(|j| {
            let s: u64 = (d + 1..F::BITS)
                .map(|len| count[len as usize] * saved(len, j))
                .sum();
            (s, j)
        })
        .filter(|&(s, _)| s >= min_saving.max(1))
        .max();
    let Some((_, j)) = best else {
        return (0, Vec::new());
    };
    let mut entries: Vec<(F::Int, u32)> = Vec::new();
    if node_depth(j) {
        entries.extend(
            (0u32..)
                .zip(paths)
                .filter(|(_, (_, off))| *off == j)
                .map(|(n, (addr, _))| (int(*addr), n)),
        );
    }
    for &i in &uniform {
        let p = pfx[i];
        if u32::from(p.len) == j {
            entries.push((int(p.addr), LEAF_FLAG | tuple_id_at(parts, p.addr)));
        }
    }
    // A uniform prefix is never a node's region; should both name one path, the node stays.
    entries.sort_unstable_by_key(|e| (e.0, e.1 & LEAF_FLAG));
    entries.dedup_by_key(|e| e.0);
    (j as u8, entries)
}

#[cfg(test)]
mod tests {
    use super::sort_by_address;
    use crate::format::{V4, V6};

    /// `n` hosts (address, list, attribute) with repeated addresses, from a fixed stream.
    fn hosts<I>(n: u32, addr: impl Fn(u64) -> I) -> Vec<(I, u8, u32)> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Every eighth address is one of 64, so addresses repeat (the sort does
                // not need each list to hold an address once, as the compiler's do).
                let a = if i % 8 == 7 { (x % 64) << 7 } else { x };
                (addr(a), (i % 3) as u8, i)
            })
            .collect()
    }

    #[test]
    fn hosts_sort_by_address_on_both_paths() {
        // Below 4,096 IPv4 hosts, and IPv6 hosts, sort by comparison; above, by counting.
        for n in [100, 5_000, 70_000] {
            let mut v4 = hosts(n, |x| (x >> 7) as u32);
            let mut expected = v4.clone();
            expected.sort_by_key(|h| (h.0, h.2));
            sort_by_address::<V4>(&mut v4);
            // The counting passes are stable: equal addresses keep their order.
            if n > 4096 {
                assert_eq!(v4, expected, "{n} IPv4 hosts");
            }
            v4.sort_by_key(|h| (h.0, h.2));
            assert_eq!(v4, expected, "{n} IPv4 hosts");

            let mut v6 = hosts(n, |x| u128::from(x) << 64 | u128::from(x));
            sort_by_address::<V6>(&mut v6);
            assert!(v6.is_sorted_by_key(|h| h.0), "{n} IPv6 hosts");
        }
    }
}
