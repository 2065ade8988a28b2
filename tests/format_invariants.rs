//! One test per `FORMAT.md` invariant: start from a valid table, break exactly that
//! invariant (re-sealing the checksum when the invariant lies behind it), and expect the
//! matching error.

use c2trie::{Compiler, List, LoadErrorKind, LoadOptions, Meta, Table};

const HEADER: usize = 80;
const SECTIONS: usize = 23;
const DATA: usize = HEADER + SECTIONS * 16;

/// A table taken apart: the fixed header and each section's bytes.
struct Parts {
    header: Vec<u8>,
    sections: Vec<Vec<u8>>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Recomputes the checksum: XXH3-64 of the file with the checksum field read as zeros.
fn seal(bytes: &mut [u8]) {
    put_u64(bytes, 32, 0);
    let sum = xxhash_rust::xxh3::xxh3_64(bytes);
    put_u64(bytes, 32, sum);
}

impl Parts {
    fn split(bytes: &[u8]) -> Parts {
        let sections = (0..SECTIONS)
            .map(|i| {
                let off = u64_at(bytes, HEADER + i * 16) as usize;
                let len = u64_at(bytes, HEADER + i * 16 + 8) as usize;
                bytes[off..off + len].to_vec()
            })
            .collect();
        Parts {
            header: bytes[..HEADER].to_vec(),
            sections,
        }
    }

    /// Reassembles with fresh offsets, file length and checksum.
    fn join(&self) -> Vec<u8> {
        let mut out = self.header.clone();
        let mut at = DATA as u64;
        for s in &self.sections {
            out.extend_from_slice(&at.to_le_bytes());
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            at += s.len() as u64;
        }
        for s in &self.sections {
            out.extend_from_slice(s);
        }
        let len = out.len() as u64;
        put_u64(&mut out, 24, len);
        seal(&mut out);
        out
    }
}

// Section numbers (FORMAT.md, "Layout").
const V4_HOSTS: usize = 0;
const V6_JUMPS: usize = 3;
const V4_FILTER: usize = 4;
const V4_SUMMARY: usize = 6;
const V6_SUMMARY: usize = 7;
const V4_HOST_TUPLES: usize = 8;
const STRING_OFFSETS: usize = 10;
const ATTRS: usize = 12;
const V4_ENTRIES: usize = 13;
const V4_TUPLES: usize = 14;
const V4_DIRECT: usize = 15;
const V4_NODES: usize = 16;
const V4_LEAVES: usize = 17;

/// A small table with strings, attributes, nested IPv4 prefixes deep enough for several
/// trie levels, hosts in both families, and IPv6 prefixes.
fn valid() -> Vec<u8> {
    // Built once per test binary: compiling is the slow part under Miri.
    static VALID: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    VALID.get_or_init(build_valid).clone()
}

fn build_valid() -> Vec<u8> {
    let mut c = Compiler::new();
    c.list_version(3).created_unix(1_700_000_000);
    let add = |c: &mut Compiler, list, net: &str, tag: &str| {
        c.add(list, net.parse().unwrap(), "sample.txt", Meta::tagged(tag))
            .unwrap();
    };
    add(&mut c, List::Global, "198.51.100.0/24", "block");
    add(&mut c, List::Global, "198.51.100.128/30", "deep");
    add(&mut c, List::Blocked, "198.51.100.0/26", "user");
    add(&mut c, List::Approved, "198.51.100.8/29", "ok");
    for i in 0..40u32 {
        add(&mut c, List::Global, &format!("203.0.113.{i}/32"), "host");
    }
    add(&mut c, List::Global, "2001:db8::/32", "v6");
    add(&mut c, List::Global, "2001:db8::1/128", "v6host");
    let bytes = c.to_vec().unwrap();
    Table::from_bytes(bytes.clone()).expect("the base table is valid");
    bytes
}

fn expect(bytes: Vec<u8>, invariant: u8, kind: LoadErrorKind) {
    let err = Table::from_bytes(bytes).expect_err("the broken table must be refused");
    assert_eq!(err.invariant(), Some(invariant), "{err}");
    assert_eq!(err.kind(), kind, "{err}");
    // The message names the invariant and never panics to produce.
    assert!(!err.to_string().is_empty());
}

fn corrupt(invariant: u8, f: impl FnOnce(&mut Parts)) {
    corrupt_table(&valid(), invariant, f);
}

/// [`corrupt`], starting from `base` instead of the base table.
fn corrupt_table(base: &[u8], invariant: u8, f: impl FnOnce(&mut Parts)) {
    let mut p = Parts::split(base);
    f(&mut p);
    expect(p.join(), invariant, LoadErrorKind::Corrupt);
}

#[test]
fn base_table_round_trips_through_split_and_join() {
    let bytes = valid();
    assert_eq!(Parts::split(&bytes).join(), bytes);
}

#[test]
fn inv01_too_short_for_the_header() {
    let bytes = valid();
    expect(bytes[..HEADER - 1].to_vec(), 1, LoadErrorKind::NotATable);
    expect(Vec::new(), 1, LoadErrorKind::NotATable);
}

#[test]
fn inv02_magic() {
    let mut bytes = valid();
    bytes[0] = b'X';
    expect(bytes, 2, LoadErrorKind::NotATable);
}

#[test]
fn inv03_version() {
    let mut bytes = valid();
    put_u32(&mut bytes, 8, 3);
    seal(&mut bytes);
    expect(bytes, 3, LoadErrorKind::UnsupportedVersion { found: 3 });
    // Version 1 (without summary and host filter) is refused the same way.
    let mut bytes = valid();
    put_u32(&mut bytes, 8, 1);
    seal(&mut bytes);
    expect(bytes, 3, LoadErrorKind::UnsupportedVersion { found: 1 });
}

#[test]
fn inv04_flags_header_len_section_count() {
    let mut bytes = valid();
    put_u32(&mut bytes, 12, 1);
    seal(&mut bytes);
    expect(bytes, 4, LoadErrorKind::Corrupt);
    let mut bytes = valid();
    put_u32(&mut bytes, 20, 16);
    seal(&mut bytes);
    expect(bytes, 4, LoadErrorKind::Corrupt);
}

#[test]
fn inv05_file_len() {
    let mut bytes = valid();
    bytes.pop();
    expect(bytes, 5, LoadErrorKind::Corrupt);
    let mut bytes = valid();
    bytes.push(0);
    expect(bytes, 5, LoadErrorKind::Corrupt);
}

#[test]
fn inv06_checksum() {
    let mut bytes = valid();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    expect(bytes.clone(), 6, LoadErrorKind::ChecksumMismatch);
    // Skipping the checksum reaches the structural checks instead (here the flipped byte
    // is in the IPv6 host slots, so invariant 19 or a valid table, never a panic).
    let _ = Table::from_bytes_with(bytes, LoadOptions::default().verify_checksum(false));
}

#[test]
fn inv07_sections_contiguous() {
    let mut bytes = valid();
    let at = HEADER + V4_ENTRIES * 16;
    let off = u64_at(&bytes, at);
    put_u64(&mut bytes, at, off + 1);
    seal(&mut bytes);
    expect(bytes, 7, LoadErrorKind::Corrupt);
}

#[test]
fn inv08_whole_records() {
    // Move one byte from the attributes to the next section: still contiguous, but the
    // attribute section no longer holds whole 20-byte records.
    corrupt(8, |p| {
        let b = p.sections[ATTRS].pop().unwrap();
        p.sections[V4_ENTRIES].insert(0, b);
    });
}

#[test]
fn inv09_parameters() {
    let mut bytes = valid();
    bytes[56] = 3; // v4_direct_bits below 4
    seal(&mut bytes);
    expect(bytes, 9, LoadErrorKind::Corrupt);
    let mut bytes = valid();
    bytes[58] = 5; // v4_summary_bits below 6
    seal(&mut bytes);
    expect(bytes, 9, LoadErrorKind::Corrupt);
    let mut bytes = valid();
    bytes[59] = 25; // v6_summary_bits above 24
    seal(&mut bytes);
    expect(bytes, 9, LoadErrorKind::Corrupt);
    // A direct table of the wrong size for its bits.
    corrupt(9, |p| {
        p.sections[V4_DIRECT].extend_from_slice(&[0, 0, 0, 0x80])
    });
    // A summary of the wrong size for its bits.
    corrupt(9, |p| p.sections[V6_SUMMARY].extend_from_slice(&[0; 8]));
}

#[test]
fn inv10_strings() {
    corrupt(10, |p| put_u32(&mut p.sections[STRING_OFFSETS], 0, 1));
}

#[test]
fn inv11_attributes() {
    corrupt(11, |p| p.sections[ATTRS][0] = 3); // list code
}

#[test]
fn inv12_entries() {
    corrupt(12, |p| p.sections[V4_ENTRIES][5] = 1); // a reserved byte
    corrupt(12, |p| {
        // Two entries swapped: out of order.
        let e = &mut p.sections[V4_ENTRIES];
        let (a, b) = e.split_at_mut(12);
        a.swap_with_slice(&mut b[..12]);
    });
}

#[test]
fn inv13_tuples() {
    // An entry out of range in tuple 1.
    corrupt(13, |p| put_u32(&mut p.sections[V4_TUPLES], 12, 1_000));
    // Tuple 0 naming an entry (of the right list): tuple 0 must be "no list".
    corrupt(13, |p| {
        let t1 = p.sections[V4_TUPLES][12..24].to_vec();
        p.sections[V4_TUPLES][..12].copy_from_slice(&t1);
    });
}

#[test]
fn inv14_direct_table() {
    corrupt(14, |p| {
        let d = &mut p.sections[V4_DIRECT];
        let slot = (0..d.len() / 4)
            .find(|i| u32_at(d, i * 4) & 0x8000_0000 != 0)
            .unwrap();
        put_u32(d, slot * 4, 0x8000_0000 | 0x7fff_ffff);
    });
}

#[test]
fn inv15_nodes() {
    corrupt(15, |p| {
        // Mark node 0's first child slot as a leaf run too.
        let n = &mut p.sections[V4_NODES];
        let children = u64_at(n, 0);
        assert_ne!(children, 0, "node 0 has children in the base table");
        let runs = u64_at(n, 8);
        put_u64(n, 8, runs | (children & children.wrapping_neg()));
    });
}

#[test]
fn inv16_depth() {
    // Give the last (deepest) IPv4 node a child: a node whose bit offset is past bit 31.
    corrupt(16, |p| {
        let count = p.sections[V4_NODES].len() / 24;
        let last = count - 1;
        let leaves = (p.sections[V4_LEAVES].len() / 4) as u32;
        let n = &mut p.sections[V4_NODES];
        let at = last * 24;
        let (children, runs) = (u64_at(n, at), u64_at(n, at + 8));
        assert_eq!(children, 0, "the last node is a leaf-only node");
        let first_leaf = (!children).trailing_zeros();
        let v = (0..64)
            .find(|v| *v != first_leaf && runs & (1 << v) == 0)
            .unwrap();
        put_u64(n, at, 1 << v);
        put_u32(n, at + 20, count as u32);
        let mut child = Vec::new();
        child.extend_from_slice(&0u64.to_le_bytes());
        child.extend_from_slice(&1u64.to_le_bytes());
        child.extend_from_slice(&leaves.to_le_bytes());
        child.extend_from_slice(&0u32.to_le_bytes());
        n.extend_from_slice(&child);
        p.sections[V4_LEAVES].extend_from_slice(&0u32.to_le_bytes());
    });
}

#[test]
fn inv17_leaves() {
    corrupt(17, |p| put_u32(&mut p.sections[V4_LEAVES], 0, 1_000_000));
}

/// The IPv4 host slots as (byte offset of the key, byte offset of the value).
fn v4_slots(p: &Parts) -> Vec<(usize, usize)> {
    (0..p.sections[V4_HOSTS].len() / 16)
        .flat_map(|b| [(b * 16, b * 16 + 8), (b * 16 + 4, b * 16 + 12)])
        .collect()
}

fn first_slot(p: &Parts, empty: bool) -> (usize, usize) {
    let h = &p.sections[V4_HOSTS];
    v4_slots(p)
        .into_iter()
        .find(|&(_, v)| (u32_at(h, v) == u32::MAX) == empty)
        .unwrap()
}

#[test]
fn inv18_host_slots() {
    corrupt(18, |p| {
        // A slot naming a host tuple past the end.
        let (_, v) = first_slot(p, false);
        let n = (p.sections[V4_HOST_TUPLES].len() / 12) as u32;
        put_u32(&mut p.sections[V4_HOSTS], v, n);
    });
    corrupt(18, |p| {
        // A host tuple's host entry moved to another list's element.
        let t = &mut p.sections[V4_HOST_TUPLES];
        let global = u32_at(t, 8);
        assert_ne!(global & 0x8000_0000, 0, "the base table's hosts are global");
        put_u32(t, 4, global);
        put_u32(t, 8, u32::MAX);
    });
    corrupt(18, |p| {
        // A host tuple that names no host.
        put_u32(&mut p.sections[V4_HOST_TUPLES], 8, u32::MAX);
    });
    corrupt(18, |p| {
        // A host tuple naming a prefix entry of another list.
        put_u32(&mut p.sections[V4_HOST_TUPLES], 0, 0);
    });
    corrupt(18, |p| {
        // A host tuple naming an entry of the right list (entry 2, the approved
        // 198.51.100.8/29) that does not contain the hosts (203.0.113.x) naming the tuple.
        put_u32(&mut p.sections[V4_HOST_TUPLES], 0, 2);
    });
    corrupt(18, |p| {
        // One address in two slots of its bucket: lookups would see one, entries() both.
        let h = &mut p.sections[V4_HOSTS];
        let b = (0..h.len() / 16)
            .find(|b| (u32_at(h, b * 16 + 8) == u32::MAX) != (u32_at(h, b * 16 + 12) == u32::MAX))
            .expect("a bucket with one free slot");
        let (from, to) = if u32_at(h, b * 16 + 8) == u32::MAX {
            (1, 0)
        } else {
            (0, 1)
        };
        let (k, v) = (
            u32_at(h, b * 16 + 4 * from),
            u32_at(h, b * 16 + 8 + 4 * from),
        );
        put_u32(h, b * 16 + 4 * to, k);
        put_u32(h, b * 16 + 8 + 4 * to, v);
    });
    corrupt(18, |p| {
        // Another key in the slot: in this fixed table, it hashes to neither of the two
        // buckets it could be in (the test would fail with a different error otherwise).
        let (k, _) = first_slot(p, false);
        let h = &mut p.sections[V4_HOSTS];
        let x = u32_at(h, k);
        put_u32(h, k, x ^ 0x00ff_0000);
    });
    corrupt(18, |p| {
        // An empty slot with a key.
        let (k, _) = first_slot(p, true);
        put_u32(&mut p.sections[V4_HOSTS], k, 7);
    });
}

#[test]
fn every_single_byte_change_is_refused_or_harmless() {
    // With the checksum on, every change is refused. With it off, every change is refused
    // by a structural invariant or yields a table whose lookups do not panic.
    let bytes = valid();
    let probes: Vec<std::net::IpAddr> = [
        "198.51.100.130",
        "198.51.100.9",
        "203.0.113.7",
        "2001:db8::1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    // Under Miri (which interprets every load) a spread sample of positions; natively all.
    // Natively: every position, each of its 8 single-bit flips, and the byte set to 0x00
    // and to 0xff (the values a zeroed or erased block leaves).
    let (step, deltas): (usize, &[u8]) = if cfg!(miri) {
        (53, &[0x80])
    } else {
        (1, &[1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80])
    };
    for i in (0..bytes.len()).step_by(step) {
        // XOR with the byte itself sets it to 0x00; with its complement, to 0xff.
        let fills = [bytes[i], !bytes[i]]
            .into_iter()
            .filter(|d| !cfg!(miri) && *d != 0);
        for delta in deltas.iter().copied().chain(fills) {
            let mut b = bytes.clone();
            b[i] ^= delta;
            assert!(
                Table::from_bytes(b.clone()).is_err(),
                "byte {i} ^ {delta:#x} was accepted"
            );
            let opts = LoadOptions::default().verify_checksum(false);
            if let Ok(t) = Table::from_bytes_with(b, opts) {
                for &q in &probes {
                    let hits = t.lookup(q);
                    for list in List::ALL {
                        if let Some(e) = hits.get(list) {
                            let _ = (e.prefix(), e.source(), e.tag(), e.risk());
                        }
                    }
                }
                let _ = t.entries().count();
            }
        }
    }
}

#[test]
fn inv19_host_filter() {
    // A bit no host sets.
    corrupt(19, |p| {
        let f = &mut p.sections[V4_FILTER];
        let (i, w) = (0..f.len() / 8)
            .map(|i| (i, u64_at(f, i * 8)))
            .find(|(_, w)| *w != u64::MAX)
            .unwrap();
        put_u64(f, i * 8, w | (!w & (!w).wrapping_neg()));
    });
    // A bit a host needs, cleared: that host could never be found.
    corrupt(19, |p| {
        let f = &mut p.sections[V4_FILTER];
        let (i, w) = (0..f.len() / 8)
            .map(|i| (i, u64_at(f, i * 8)))
            .find(|(_, w)| *w != 0)
            .unwrap();
        put_u64(f, i * 8, w & (w - 1));
    });
    // No filter for a family that has hosts.
    corrupt(19, |p| p.sections[V4_FILTER].clear());
}

#[test]
fn inv20_summary() {
    // Per block, bit 2i: a prefix meets it; bit 2i + 1: a host lies in it.
    const PREFIX_BITS: u64 = 0x5555_5555_5555_5555;
    // A prefix bit cleared: lookups there would skip the prefixes.
    corrupt(20, |p| {
        let s = &mut p.sections[V4_SUMMARY];
        let i = (0..s.len() / 8)
            .find(|i| u64_at(s, i * 8) & PREFIX_BITS != 0)
            .unwrap();
        let w = u64_at(s, i * 8);
        let bit = (w & PREFIX_BITS).trailing_zeros();
        put_u64(s, i * 8, w & !(1 << bit));
    });
    // A host bit cleared: lookups there would skip the hosts.
    corrupt(20, |p| {
        let s = &mut p.sections[V4_SUMMARY];
        let i = (0..s.len() / 8)
            .find(|i| u64_at(s, i * 8) & !PREFIX_BITS != 0)
            .unwrap();
        let w = u64_at(s, i * 8);
        let bit = (w & !PREFIX_BITS).trailing_zeros();
        put_u64(s, i * 8, w & !(1 << bit));
    });
    // A block marked where no prefix lies.
    corrupt(20, |p| {
        let s = &mut p.sections[V4_SUMMARY];
        let w = u64_at(s, 0);
        put_u64(s, 0, w | 1);
    });
    // A block marked where no host lies.
    corrupt(20, |p| {
        let s = &mut p.sections[V4_SUMMARY];
        let w = u64_at(s, 0);
        put_u64(s, 0, w | 2);
    });
}

/// A summary block under a child node's slot takes its prefix bit from the child's leaves
/// alone, even where a leaf run of the parent, naming a tuple, spans the child's slot. The
/// table: 198.0.0.0/12 and, inside it, 198.4.0.0/16 (the child of 198.0.0.0/8's node at
/// slot 1, between slots 0, 2 and 3 of the /12's run), with 200 hosts so that the summary's
/// blocks are the node's slots (2^14 of them). The child's leaves are then set to tuple 0,
/// and its block's prefix bit cleared: a valid table. Its bit set instead is refused.
#[test]
fn inv20_summary_child_inside_a_run() {
    let mut c = Compiler::new();
    let add = |c: &mut Compiler, net: &str| {
        c.add(List::Global, net.parse().unwrap(), "s", Meta::default())
            .unwrap();
    };
    add(&mut c, "198.0.0.0/12");
    add(&mut c, "198.4.0.0/16");
    for i in 0..200u32 {
        add(&mut c, &format!("203.0.113.{i}/32"));
    }
    let base = c.to_vec().unwrap();
    let p = Parts::split(&base);
    let (d, s) = (u32::from(p.header[56]), u32::from(p.header[58]));
    assert_eq!((d, s), (8, 14), "the node's slots are the summary's blocks");
    // 198.0.0.0/8's node; its slot 1 (198.4.0.0/14) is a child.
    let slot = u32_at(&p.sections[V4_DIRECT], 198 * 4);
    assert_eq!(slot >> 31, 0, "198.0.0.0/8 has a node");
    let node = |p: &Parts, i: usize| {
        let n = &p.sections[V4_NODES][i * 24..i * 24 + 24];
        (u64_at(n, 0), u64_at(n, 8), u32_at(n, 16), u32_at(n, 20))
    };
    let (children, runs, _, base_child) = node(&p, slot as usize);
    assert_eq!(
        children & 0xf,
        0b0010,
        "slot 1 is the only child among slots 0-3"
    );
    assert_eq!(runs & 0xf, 0b0001, "one run spans slots 0, 2 and 3");
    let (_, child_runs, child_leaf, _) = node(&p, base_child as usize);
    let block = (198 << 6) | 1;
    let prefix_bit = |p: &mut Parts, set: bool| {
        let w = u64_at(&p.sections[V4_SUMMARY], block / 32 * 8);
        let bit = 1u64 << (block % 32 * 2);
        let w = if set { w | bit } else { w & !bit };
        put_u64(&mut p.sections[V4_SUMMARY], block / 32 * 8, w);
    };
    let mut edited = Parts::split(&base);
    for k in 0..child_runs.count_ones() as usize {
        put_u32(
            &mut edited.sections[V4_LEAVES],
            (child_leaf as usize + k) * 4,
            0,
        );
    }
    prefix_bit(&mut edited, false);
    let table = Table::from_bytes(edited.join()).expect("no prefix lies in the child's block");
    assert!(
        !table
            .lookup("198.4.1.1".parse().unwrap())
            .contains(List::Global)
    );
    assert!(
        table
            .lookup("198.8.1.1".parse().unwrap())
            .contains(List::Global)
    );
    prefix_bit(&mut edited, true);
    expect(edited.join(), 20, LoadErrorKind::Corrupt);
}

/// Prefixes in the jump test tables: a jump table needs 64 entries at one depth.
const JUMP_ENTRIES: u32 = 72;

/// The `i`th prefix of a jump test table: distinct /60s under 2001:db8::/32, all /64s
/// (`leaves`) or /61 to /64 in turn.
fn jump_prefix(i: u32, leaves: bool) -> String {
    let len = if leaves { 64 } else { 61 + i % 4 };
    format!("2001:db8:{:x}:{:x}::/{len}", i * 331 % 65_536, i * 16)
}

/// A table whose IPv6 jump table holds leaf entries: 72 /64s, each the whole answer for
/// its addresses, at depth 64.
fn jump_table() -> Vec<u8> {
    // Built once per test binary, as `valid()`.
    static JUMPS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    JUMPS.get_or_init(|| build_jump_table(true)).clone()
}

/// A table whose IPv6 jump table holds node entries: 72 prefixes of four lengths (too few
/// of each for leaf entries), each under its own trie node at offset 60.
fn node_jump_table() -> Vec<u8> {
    static JUMPS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    JUMPS.get_or_init(|| build_jump_table(false)).clone()
}

fn build_jump_table(leaves: bool) -> Vec<u8> {
    let mut c = Compiler::new();
    c.list_version(1).created_unix(1_700_000_000);
    for i in 0..JUMP_ENTRIES {
        c.add(
            List::Global,
            jump_prefix(i, leaves).parse().unwrap(),
            "deep.txt",
            Meta::default(),
        )
        .unwrap();
    }
    let bytes = c.to_vec().unwrap();
    let want = if leaves { 64 } else { 60 };
    assert_eq!(bytes[65], want, "the IPv6 half's jump depth");
    Table::from_bytes(bytes.clone()).expect("the jump table is valid");
    bytes
}

/// The filled IPv6 jump slots as (byte offset of the key, byte offset of the value).
fn v6_jump_slots(p: &Parts) -> Vec<(usize, usize)> {
    let j = &p.sections[V6_JUMPS];
    (0..j.len() / 40)
        .flat_map(|b| [(b * 40, b * 40 + 32), (b * 40 + 16, b * 40 + 36)])
        .filter(|&(_, v)| u32_at(j, v) != u32::MAX)
        .collect()
}

#[test]
#[cfg_attr(
    miri,
    ignore = "loads the two jump tables a dozen times: three minutes interpreted (runs natively)"
)]
fn inv21_jump_slots() {
    // Lookups through either kind of jump table agree with the entries.
    for leaves in [true, false] {
        let bytes = if leaves {
            jump_table()
        } else {
            node_jump_table()
        };
        let table = Table::from_bytes(bytes).unwrap();
        for i in [0u32, 1, 2, 3, 57, JUMP_ENTRIES - 1] {
            let net: ipnet::IpNet = jump_prefix(i, leaves).parse().unwrap();
            for a in [net.network(), net.broadcast()] {
                let hit = table
                    .lookup(a)
                    .get(List::Global)
                    .expect("inside its prefix");
                assert_eq!(hit.prefix(), net);
            }
        }
    }
    // The first filled slot's value with its low bit flipped: another tuple for a leaf
    // entry, another node for a node entry.
    fn retarget(p: &mut Parts) {
        let (_, v) = v6_jump_slots(p)[0];
        let n = u32_at(&p.sections[V6_JUMPS], v);
        put_u32(&mut p.sections[V6_JUMPS], v, n ^ 1);
    }
    let broken = |f: fn(&mut Parts)| corrupt_table(&jump_table(), 21, f);
    // A leaf entry naming another prefix's tuple.
    broken(retarget);
    // A slot whose key is not a path (a bit below the jump depth set).
    broken(|p| {
        let (k, _) = v6_jump_slots(p)[0];
        p.sections[V6_JUMPS][k] ^= 1;
    });
    let broken = |f: fn(&mut Parts)| corrupt_table(&node_jump_table(), 21, f);
    // A node entry naming another node.
    broken(retarget);
    // A node's path made a leaf entry: the addresses under it do not all map to one tuple.
    broken(|p| {
        let (_, v) = v6_jump_slots(p)[0];
        put_u32(&mut p.sections[V6_JUMPS], v, 1 << 31);
    });
    // An empty slot with a key.
    broken(|p| {
        let j = &p.sections[V6_JUMPS];
        let empty = (0..j.len() / 40)
            .flat_map(|b| [(b * 40, b * 40 + 32), (b * 40 + 16, b * 40 + 36)])
            .find(|&(_, v)| u32_at(j, v) == u32::MAX)
            .unwrap();
        p.sections[V6_JUMPS][empty.0] = 1;
    });
}

#[test]
fn inv09_jump_depth_and_reserved_bytes() {
    // A jump depth not below the direct table's (d6 is header byte 57).
    let mut bytes = jump_table();
    bytes[65] = bytes[57];
    seal(&mut bytes);
    expect(bytes, 9, LoadErrorKind::Corrupt);
    // A jump depth past the address.
    let mut bytes = jump_table();
    bytes[65] = 128;
    seal(&mut bytes);
    expect(bytes, 9, LoadErrorKind::Corrupt);
    // No jump offset but a jump table.
    let mut bytes = jump_table();
    bytes[65] = 0;
    seal(&mut bytes);
    expect(bytes, 9, LoadErrorKind::Corrupt);
    // A reserved header byte.
    let mut bytes = valid();
    bytes[70] = 1;
    seal(&mut bytes);
    expect(bytes, 9, LoadErrorKind::Corrupt);
}

/// Invariant 22: a leaf's tuple names only entries that contain the leaf's addresses. A
/// leaf pointed at another prefix's tuple (checksum recomputed, every structural
/// invariant kept) would make lookups there answer with entries that do not match.
#[test]
fn inv22_leaves_cover_their_entries() {
    let base = valid();
    let p = Parts::split(&base);
    let leaves = &p.sections[V4_LEAVES];
    let values: Vec<u32> = (0..leaves.len() / 4)
        .map(|i| u32_at(leaves, i * 4))
        .collect();
    // Swap in another leaf's non-empty tuple until one names an entry that does not
    // contain the leaf; the summary marks only tuple 0 vs the rest, so it stays right.
    let mut broke = false;
    'outer: for (i, &a) in values.iter().enumerate() {
        for &b in &values {
            if a == 0 || b == 0 || a == b {
                continue;
            }
            let mut q = Parts::split(&base);
            put_u32(&mut q.sections[V4_LEAVES], i * 4, b);
            if let Err(e) = Table::from_bytes(q.join()) {
                assert_eq!(e.invariant(), Some(22), "{e}");
                assert_eq!(e.kind(), LoadErrorKind::Corrupt, "{e}");
                broke = true;
                break 'outer;
            }
        }
    }
    assert!(broke, "no swap of leaf tuples was refused");
    // A direct-table leaf too: the slot of 0.0.0.0 (on no list, tuple 0) pointed at a
    // non-empty tuple, whose entries lie elsewhere.
    corrupt(22, |p| {
        let d = &mut p.sections[V4_DIRECT];
        assert_eq!(u32_at(d, 0), 1 << 31, "slot 0 is an empty leaf");
        put_u32(d, 0, (1 << 31) | 1);
    });
}

/// Invariant 18 allows a host at address 0 in the second slot of its bucket, the first
/// empty (an empty slot's key is 0 too): such a table loads and finds the host. The
/// check for one key in both slots must not count the empty slot.
#[test]
fn inv18_a_host_at_address_zero_may_sit_behind_an_empty_slot() {
    let mut c = Compiler::new();
    for net in ["0.0.0.0/32", "192.0.2.1/32", "198.51.100.0/24"] {
        c.add(List::Global, net.parse().unwrap(), "s", Meta::default())
            .unwrap();
    }
    let mut p = Parts::split(&c.to_vec().unwrap());
    let h = &mut p.sections[V4_HOSTS];
    // The bucket holding 0.0.0.0 in its first slot, its second empty: swap the values
    // (both keys are 0 already).
    let b = (0..h.len() / 16)
        .find(|b| {
            u32_at(h, b * 16) == 0
                && u32_at(h, b * 16 + 4) == 0
                && u32_at(h, b * 16 + 8) != u32::MAX
                && u32_at(h, b * 16 + 12) == u32::MAX
        })
        .expect("0.0.0.0 alone in the first slot of its bucket");
    let v = u32_at(h, b * 16 + 8);
    put_u32(h, b * 16 + 8, u32::MAX);
    put_u32(h, b * 16 + 12, v);
    let t = Table::from_bytes(p.join()).expect("the moved host is valid");
    assert!(t.lookup("0.0.0.0".parse().unwrap()).contains(List::Global));
    assert!(!t.lookup("0.0.0.1".parse().unwrap()).contains(List::Global));
}
