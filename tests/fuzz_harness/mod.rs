//! The checks behind each fuzz target, shared by `fuzz/fuzz_targets/*.rs` (driven by
//! libFuzzer) and `tests/fuzz_regressions.rs` (replaying saved inputs as ordinary tests).
//!
//! Each function takes the raw fuzzer input and panics only when it finds a bug.

#![allow(dead_code)]

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use c2trie::compile::Limits;
use c2trie::feed::{self, FeedOptions, Format};
use c2trie::{Compiler, List, LoadOptions, Meta, Table};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Every lookup and accessor a caller can reach, on `table`, for `queries` plus the edges of
/// the table's own entries. Nothing here may panic, whatever the bytes were.
fn exercise(table: &Table, queries: &[IpAddr]) {
    let mut edges = Vec::new();
    for e in table.entries().take(64) {
        let _ = (
            e.list(),
            e.source(),
            e.tag(),
            e.risk(),
            e.expires(),
            e.meta(),
        );
        edges.extend(edge_addrs(e.prefix()));
    }
    for q in queries.iter().chain(&edges) {
        let hits = table.lookup(*q);
        let _ = (hits.is_empty(), hits.addr());
        for list in List::ALL {
            if let Some(e) = hits.get(list) {
                let _ = (
                    e.prefix(),
                    e.source(),
                    e.tag(),
                    e.risk(),
                    e.expires(),
                    e.meta(),
                );
            }
            let _ = hits.contains(list);
        }
    }
    // The batch paths, over the same addresses, answer as single lookups do: they go
    // through the same shortcuts and indexes, on any table that loads.
    let all: Vec<IpAddr> = queries.iter().chain(&edges).copied().collect();
    let mut out = Vec::new();
    table.lookup_batch(&all, &mut out);
    assert_eq!(out.len(), all.len());
    for (q, from_batch) in all.iter().zip(&out) {
        same_answers(table, *q, from_batch, "lookup_batch");
    }
    let (mut v4, mut v6): (Vec<Ipv4Addr>, Vec<Ipv6Addr>) = (Vec::new(), Vec::new());
    for a in &all {
        match a {
            IpAddr::V4(a) => v4.push(*a),
            IpAddr::V6(a) => v6.push(*a),
        }
    }
    // Each answer is checked against the address at its position, so an answer that
    // names another address (or comes out of order) fails.
    let mut seen = 0;
    table.lookup_v4_each(&v4, |h| {
        let q = v4.get(seen).copied().map(IpAddr::V4);
        same_answers(
            table,
            q.expect("more v4 answers than addresses"),
            &h,
            "lookup_v4_each",
        );
        seen += 1;
    });
    assert_eq!(seen, v4.len());
    let mut seen = 0;
    table.lookup_v6_each(&v6, |h| {
        let q = v6.get(seen).copied().map(IpAddr::V6);
        same_answers(
            table,
            q.expect("more v6 answers than addresses"),
            &h,
            "lookup_v6_each",
        );
        seen += 1;
    });
    assert_eq!(seen, v6.len());
    let _ = table.entries().count();
    for list in List::ALL {
        let _ = (table.count(list, false), table.count(list, true));
    }
    let _ = (
        table.len(),
        table.list_version(),
        table.created_unix(),
        table.checksum(),
    );
}

/// A batch's answer for `q` equals the single lookup's, list by list.
fn same_answers(table: &Table, q: IpAddr, from_batch: &c2trie::Hits<'_>, api: &str) {
    let single = table.lookup(q);
    assert_eq!(from_batch.addr(), q, "{api}");
    for list in List::ALL {
        assert_eq!(from_batch.get(list), single.get(list), "{api} {list} {q}");
    }
}

fn edge_addrs(net: IpNet) -> [IpAddr; 4] {
    match net {
        IpNet::V4(n) => {
            let (lo, hi) = (u32::from(n.network()), u32::from(n.broadcast()));
            [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)].map(|a| IpAddr::V4(a.into()))
        }
        IpNet::V6(n) => {
            let (lo, hi) = (u128::from(n.network()), u128::from(n.broadcast()));
            [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)].map(|a| IpAddr::V6(a.into()))
        }
    }
}

fn fixed_queries() -> Vec<IpAddr> {
    [
        "0.0.0.0",
        "255.255.255.255",
        "192.0.2.1",
        "198.51.100.130",
        "203.0.113.7",
        "10.0.0.1",
        "::",
        "::1",
        "2001:db8::1",
        "2001:db8:ffff::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ]
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect()
}

/// `load_bytes`: arbitrary bytes as a table, with and without the checksum.
pub(crate) fn load_bytes(data: &[u8]) {
    let queries = fixed_queries();
    if let Ok(t) = Table::from_bytes(data.to_vec()) {
        exercise(&t, &queries);
    }
    let opts = LoadOptions::default().verify_checksum(false);
    if let Ok(t) = Table::from_bytes_with(data.to_vec(), opts) {
        exercise(&t, &queries);
    }
}

/// The valid table `load_deep` starts from: every section non-empty, nested prefixes
/// several trie levels deep, hosts and prefixes in both families, all three lists, and a
/// jump table in each family (IPv4: leaf entries for 70 /31s; IPv6: node entries at
/// offset 60 above 72 prefixes of /61 to /64).
pub(crate) fn base_table() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut c = Compiler::new();
        // `10.0.0.0/8` is a bogon on purpose: the table, not the guards, is under test.
        c.list_version(9)
            .created_unix(1_700_000_000)
            .limits(c2trie::compile::Limits::none());
        let mut add = |list, net: &str, tag: &str, risk| {
            let mut meta = Meta::tagged(tag).with_expires(1_800_000_000);
            meta.risk = risk;
            let net = net.parse().unwrap_or_else(|e| panic!("{net}: {e}"));
            c.add(list, net, "seed.txt", meta)
                .unwrap_or_else(|e| panic!("{e}"));
        };
        add(List::Global, "198.51.100.0/24", "wide", Some(40));
        add(List::Global, "198.51.100.128/30", "deep", Some(90));
        add(List::Blocked, "198.51.100.0/26", "user", None);
        add(List::Approved, "198.51.100.8/29", "ok", None);
        add(List::Global, "10.0.0.0/8", "bogon", None);
        for i in 0..24 {
            add(List::Global, &format!("203.0.113.{i}/32"), "host", Some(i));
        }
        add(List::Blocked, "203.0.113.5/32", "user-host", None);
        add(List::Global, "2001:db8::/32", "v6", None);
        add(List::Global, "2001:db8:0:1::/64", "v6deep", None);
        add(List::Approved, "2001:db8::1/128", "v6host", None);
        add(List::Global, "2001:db8::2/128", "v6host2", None);
        for i in 0..70 {
            add(List::Global, &format!("172.16.{i}.0/31"), "jump4", None);
        }
        for i in 0..72u32 {
            let net = format!("2001:db8:{:x}:{:x}::/{}", i * 331 + 7, i * 16, 61 + i % 4);
            add(List::Global, &net, "jump6", None);
        }
        let bytes = c.to_vec().unwrap_or_else(|e| panic!("{e}"));
        // Header bytes 64 and 65: the jump depths (FORMAT.md).
        assert_eq!(
            (bytes[64], bytes[65]),
            (31, 60),
            "the base table has a leaf jump table (IPv4) and a node one (IPv6)"
        );
        bytes
    })
}

/// Applies an edit script to `bytes`: 7-byte records `offset:u16 op:u8 value:u32` (little
/// endian); the offset wraps around the current length.
pub(crate) fn apply_edits(bytes: &mut Vec<u8>, script: &[u8]) {
    for rec in script.chunks_exact(7) {
        if bytes.is_empty() {
            return;
        }
        let off = usize::from(u16::from_le_bytes([rec[0], rec[1]])) % bytes.len();
        let val = u32::from_le_bytes([rec[3], rec[4], rec[5], rec[6]]);
        let word = off.min(bytes.len().saturating_sub(4));
        match rec[2] % 8 {
            0 => bytes[off] ^= val as u8,
            1 => bytes[off] = val as u8,
            2 if bytes.len() >= 4 => bytes[word..word + 4].copy_from_slice(&val.to_le_bytes()),
            3 if bytes.len() >= 4 => {
                let old = u32::from_le_bytes([
                    bytes[word],
                    bytes[word + 1],
                    bytes[word + 2],
                    bytes[word + 3],
                ]);
                let new = old.wrapping_add(val);
                bytes[word..word + 4].copy_from_slice(&new.to_le_bytes());
            }
            4 => bytes.truncate(off),
            5 => bytes.insert(off, val as u8),
            6 if bytes.len() >= 4 => {
                // Copy a word from elsewhere: moves plausible values around.
                let from = (val as usize) % (bytes.len() - 3);
                let w = [
                    bytes[from],
                    bytes[from + 1],
                    bytes[from + 2],
                    bytes[from + 3],
                ];
                bytes[word..word + 4].copy_from_slice(&w);
            }
            _ => {
                let len = bytes.len() as u64;
                if bytes.len() >= 32 {
                    // Keep the header's file length consistent with a changed size.
                    bytes[24..32].copy_from_slice(&len.to_le_bytes());
                }
            }
        }
    }
}

/// The second valid table `load_deep` starts from: an IPv6 abuse list of hosts, /64s,
/// /48s and /32s (four lengths, none past /64, too many and too long for the prefix
/// groups), nested across the three lists, so that a table loaded from it gets the
/// per-length prefix tables (`Table` docs); and a few IPv4 entries.
pub(crate) fn lengths_base_table() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut c = Compiler::new();
        c.list_version(3)
            .created_unix(1_700_000_000)
            .limits(c2trie::compile::Limits::none());
        let mut add = |list, net: &str| {
            let net = net.parse().unwrap_or_else(|e| panic!("{net}: {e}"));
            c.add(list, net, "abuse.txt", Meta::default())
                .unwrap_or_else(|e| panic!("{e}"));
        };
        add(List::Global, "2001:db8::/32");
        add(List::Blocked, "2001:db8:5::/48");
        add(List::Approved, "2001:db8:5:7::/64");
        add(List::Global, "2a0e:1c80::/32");
        for i in 0..40u32 {
            add(List::Global, &format!("2001:db8:{:x}::/48", i * 7 + 1));
            add(List::Global, &format!("2a0e:1c80:{:x}:{:x}::/64", i, i * 3));
            add(List::Blocked, &format!("2001:db8:{:x}:1::/64", i * 7 + 1));
            add(
                List::Global,
                &format!("2001:db8:{:x}::{:x}/128", i * 7 + 1, i + 9),
            );
            add(List::Global, &format!("3fff:{:x}::1/128", i));
        }
        add(List::Approved, "2001:db8:8::9/128");
        add(List::Global, "198.51.100.0/24");
        add(List::Global, "203.0.113.9/32");
        c.to_vec().unwrap_or_else(|e| panic!("{e}"))
    })
}

/// `load_deep`: a valid table with fuzzer-chosen edits, loaded without the checksum so
/// that the structural checks are what stands between the bytes and the lookups. The same
/// edits are applied to each base table: `base_table` (jump tables in both families) and
/// `lengths_base_table` (per-length IPv6 prefix tables).
pub(crate) fn load_deep(script: &[u8]) {
    for base in [base_table(), lengths_base_table()] {
        let mut bytes = base.to_vec();
        apply_edits(&mut bytes, script);
        let opts = LoadOptions::default().verify_checksum(false);
        if let Ok(t) = Table::from_bytes_with(bytes, opts) {
            exercise(&t, &fixed_queries());
        }
    }
}

/// `parse_feed`: the first byte picks the format and line cap, the rest is the feed text.
/// Checks the documented accounting as well as the absence of panics.
pub(crate) fn parse_feed(data: &[u8]) {
    let Some((&sel, text)) = data.split_first() else {
        return;
    };
    let format = Format::ALL[usize::from(sel) % Format::ALL.len()];
    let mut opts = FeedOptions::new().with_format(format);
    if sel & 0x80 != 0 {
        opts = opts.with_max_line_bytes(64).with_max_input_bytes(4096);
    }
    let Ok(feed) = feed::parse_bytes("fuzz.txt", text, &opts) else {
        return;
    };
    assert_ne!(feed.format, Format::Auto);
    let s = feed.stats;
    assert_eq!(s.accepted, feed.entries.len() as u64, "{s:?}");
    // Line errors are kept up to a cap; the count is exact.
    assert_eq!(s.rejected.min(10_000), feed.errors.len() as u64, "{s:?}");
    let distinct: HashSet<_> = feed.entries.iter().map(|e| e.net).collect();
    assert_eq!(distinct.len(), feed.entries.len(), "each prefix kept once");
    // For JSON a "line" of the counts is a record, numbered by the text line it starts on,
    // and several records can start on one line: only the line-oriented formats have the
    // exact accounting.
    let json = feed.format == Format::Json;
    let producing: HashSet<u64> = feed.entries.iter().map(|e| e.line).collect();
    if json {
        assert!(s.lines >= s.rejected + s.skipped, "{s:?}");
    } else {
        // A line that gave only repeats produced entries but keeps none (at most one such
        // line per duplicate).
        let counted = s.rejected + s.skipped + producing.len() as u64;
        assert!(
            counted <= s.lines && s.lines <= counted + s.duplicates,
            "{s:?}, {} producing lines",
            producing.len()
        );
    }
    for e in &feed.entries {
        assert_eq!(e.net, e.net.trunc(), "{e:?}");
        assert!(e.line >= 1 && (json || e.line <= s.lines), "{e:?} {s:?}");
        assert!(e.meta.risk.is_none_or(|r| r <= Meta::MAX_RISK), "{e:?}");
    }
    for err in &feed.errors {
        assert!(
            err.line >= 1 && (json || err.line <= s.lines),
            "{err:?} {s:?}"
        );
        assert!(!err.reason.is_empty());
    }
}

/// One entry for `roundtrip`.
#[derive(Debug, Arbitrary)]
pub(crate) struct RtEntry {
    list: u8,
    v6: bool,
    addr: u128,
    len: u8,
    near: bool,
}

/// Many prefixes of one length for `roundtrip`, so that the compiler builds a jump table:
/// `64 + count % 64` prefixes `/len` spread from `base` by `step`; for `roundtrip_wide`,
/// `512 + count % 64`, so that an IPv4 list of them gets the 18-bit direct table and the
/// expansion built at load.
#[derive(Debug, Arbitrary)]
pub(crate) struct RtDeep {
    list: u8,
    v6: bool,
    base: u128,
    len: u8,
    count: u8,
    step: u32,
}

impl RtDeep {
    fn nets(&self, wide: bool) -> Vec<(List, IpNet)> {
        let list = List::ALL[usize::from(self.list) % 3];
        let bits: u32 = if self.v6 { 128 } else { 32 };
        let len = 1 + u32::from(self.len) % (bits - 1);
        let unit = 1u128 << (bits - len);
        let step = u128::from(self.step | 1);
        let n = if wide { 512 } else { 64 };
        (0..n + u128::from(self.count % 64))
            .map(|i| {
                let a = self
                    .base
                    .wrapping_add(i.wrapping_mul(step).wrapping_mul(unit));
                let net = if self.v6 {
                    IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len as u8).unwrap_or_default())
                } else {
                    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a as u32), len as u8).unwrap_or_default())
                };
                RtEntry::canonical(list, net)
            })
            .collect()
    }
}

/// The input of `roundtrip`: entries (and, optionally, many of one length) and extra query
/// addresses.
#[derive(Debug, Arbitrary)]
pub(crate) struct RtInput {
    deep: Option<RtDeep>,
    entries: Vec<RtEntry>,
    queries: Vec<(bool, u128)>,
}

impl RtEntry {
    fn net(&self) -> (List, IpNet) {
        let list = List::ALL[usize::from(self.list) % 3];
        // `near` clusters addresses under one /24 (or /120) so that prefixes nest.
        let net = if self.v6 {
            let a = if self.near {
                (0x2001_0db8u128 << 96) | (self.addr & 0xff)
            } else {
                self.addr
            };
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), self.len % 129).unwrap_or_default())
        } else {
            let a = if self.near {
                0xc633_6400 | (self.addr as u32 & 0xff)
            } else {
                self.addr as u32
            };
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), self.len % 33).unwrap_or_default())
        };
        Self::canonical(list, net)
    }

    /// The compiler stores an IPv4-mapped prefix (`::ffff:a.b.c.d/96+n`) as the IPv4
    /// prefix it names; the model does the same.
    fn canonical(list: List, net: IpNet) -> (List, IpNet) {
        if let IpNet::V6(v6) = net
            && v6.prefix_len() >= 96
            && let Some(v4) = v6.addr().to_ipv4_mapped()
        {
            let n = Ipv4Net::new(v4, v6.prefix_len() - 96).unwrap_or_default();
            return (list, IpNet::V4(n.trunc()));
        }
        (list, net.trunc())
    }
}

/// The IPv4 prefix an IPv6 entry spells, written from the RFCs independently of the
/// compiler: IPv4-compatible (`::/96`, RFC 4291), IPv4-translated (`::ffff:0:0:0/96`, RFC
/// 2765), NAT64 (`64:ff9b::/96`, RFC 6052): the last 32 bits; 6to4 (`2002::/16`, RFC 3056):
/// bits 16–47. Only entries inside the encoding's prefix that fix at least 8 bits of an
/// IPv4 address outside `0.0.0.0/8`.
pub(crate) fn spelled_v4(net: IpNet) -> Option<ipnet::Ipv4Net> {
    let IpNet::V6(n) = net else { return None };
    let o = n.network().octets();
    let len = n.prefix_len();
    const LAST_32: [[u8; 12]; 3] = [
        [0; 12],                                       // compatible
        [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0],    // translated
        [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], // NAT64
    ];
    let (v4, v4_len) = if len >= 96 && LAST_32.iter().any(|p| o[..12] == *p) {
        ([o[12], o[13], o[14], o[15]], len - 96)
    } else if len >= 16 && o[..2] == [0x20, 0x02] {
        ([o[2], o[3], o[4], o[5]], (len - 16).min(32))
    } else {
        return None;
    };
    let v4 = ipnet::Ipv4Net::new(v4.into(), v4_len).ok()?.trunc();
    (v4_len >= 8 && v4.network().octets()[0] != 0).then_some(v4)
}

/// `roundtrip`: compile arbitrary entries, load, and compare lookups with a linear scan.
pub(crate) fn roundtrip(data: &[u8]) {
    roundtrip_with(data, false);
}

/// `roundtrip_wide`: as `roundtrip`, with 512–575 prefixes of one length beside the
/// entries (inputs without them are skipped). Each input costs a table with an 18-bit
/// direct table, which is why this is a target of its own.
pub(crate) fn roundtrip_wide(data: &[u8]) {
    roundtrip_with(data, true);
}

fn roundtrip_with(data: &[u8], wide: bool) {
    let Ok(input) = RtInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    if wide && input.deep.is_none() {
        return;
    }
    let mut entries: Vec<(List, IpNet)> = input.entries.iter().take(64).map(RtEntry::net).collect();
    if let Some(deep) = &input.deep {
        entries.extend(deep.nets(wide));
    }
    let mut c = Compiler::new();
    c.created_unix(0).limits(Limits::none());
    let mut seen = HashSet::new();
    for (i, (list, net)) in entries.iter().enumerate() {
        let meta = Meta::tagged(format!("t{}", i % 5)).with_risk((i % 101) as u8);
        let added = c
            .add(*list, *net, &format!("src{}", i % 3), meta)
            .unwrap_or_else(|e| panic!("{e}"));
        // An IPv6 spelling of IPv4 hosts also adds the IPv4 prefix it spells.
        let derived = spelled_v4(*net).is_some_and(|v4| seen.insert((*list, IpNet::V4(v4))));
        let own = seen.insert((*list, *net));
        assert_eq!(added, own || derived, "{list} {net}");
    }
    let bytes = c.to_vec().unwrap_or_else(|e| panic!("{e}"));
    let table = Table::from_bytes(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table.len(), seen.len());
    let mut queries: Vec<IpAddr> = input
        .queries
        .iter()
        .take(64)
        .map(|&(v6, a)| {
            if v6 {
                IpAddr::V6(a.into())
            } else {
                IpAddr::V4((a as u32).into())
            }
        })
        .collect();
    // The edges of every entry given, and of every eighth generated one (all alike).
    let given = input.entries.len().min(64);
    for (i, (_, net)) in entries.iter().enumerate() {
        if i < given || (i - given).is_multiple_of(8) {
            queries.extend(edge_addrs(*net));
        }
    }
    let mut batch = Vec::new();
    table.lookup_batch(&queries, &mut batch);
    assert_eq!(batch.len(), queries.len());
    let model: Vec<(List, IpNet)> = seen.into_iter().collect();
    for (q, from_batch) in queries.iter().zip(&batch) {
        let hits = table.lookup(*q);
        // The model: per list, the longest prefix containing the address.
        let mut want: [Option<IpNet>; 3] = [None; 3];
        for (l, n) in &model {
            let w = &mut want[l.index()];
            if n.contains(q) && w.is_none_or(|b| b.prefix_len() < n.prefix_len()) {
                *w = Some(*n);
            }
        }
        for list in List::ALL {
            let want = want[list.index()];
            assert_eq!(hits.get(list).map(|e| e.prefix()), want, "{list} {q}");
            assert_eq!(from_batch.get(list), hits.get(list), "batch {list} {q}");
        }
    }
}

/// The input of `embedded_v4`.
#[derive(Debug, Arbitrary)]
pub(crate) struct EmbInput {
    /// An address to decode as is.
    addr: u128,
    /// An IPv4 address to embed, with the encoding `enc` picks, over `noise`.
    v4: u32,
    enc: u8,
    noise: u128,
    /// Bit i turns `Encoding::ALL[i]` off.
    disabled: u16,
    /// Operator NAT64 prefixes: address and a length picked from the RFC 6052 set.
    nat64: Vec<(u128, u8)>,
}

const RFC6052_LENS: [u8; 6] = [32, 40, 48, 56, 64, 96];

/// Where RFC 6052 §2.2 puts the four IPv4 bytes for a prefix of `len` bits (byte 8, the
/// "u" octet, is always skipped).
fn rfc6052_slots(len: u8) -> [usize; 4] {
    match len {
        32 => [4, 5, 6, 7],
        40 => [5, 6, 7, 9],
        48 => [6, 7, 9, 10],
        56 => [7, 9, 10, 11],
        64 => [9, 10, 11, 12],
        _ => [12, 13, 14, 15],
    }
}

/// Writes `v4` into `base` under `enc`, from the RFCs, independently of the library: the
/// encoding's fixed prefix bits, then the IPv4 bytes where it carries them. `nat64` is the
/// operator prefix for `Encoding::Nat64Operator`.
fn embed(enc: c2trie::policy::Encoding, v4: u32, base: u128, nat64: Option<Ipv6Net>) -> u128 {
    use c2trie::policy::Encoding as E;
    let mut b = base.to_be_bytes();
    let v = v4.to_be_bytes();
    let mut put = |prefix: &[u8], slots: [usize; 4], bytes: [u8; 4]| {
        b[..prefix.len()].copy_from_slice(prefix);
        for (s, x) in slots.into_iter().zip(bytes) {
            b[s] = x;
        }
    };
    match enc {
        E::Mapped => put(
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
            [12, 13, 14, 15],
            v,
        ),
        E::Compatible => put(&[0; 12], [12, 13, 14, 15], v),
        E::Translated => put(
            &[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0],
            [12, 13, 14, 15],
            v,
        ),
        E::Nat64WellKnown => put(
            &[0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0],
            [12, 13, 14, 15],
            v,
        ),
        E::Nat64LocalUse => put(&[0, 0x64, 0xff, 0x9b, 0, 1], rfc6052_slots(48), v),
        E::Nat64Operator => {
            let p = nat64.unwrap_or_default();
            let n = usize::from(p.prefix_len() / 8);
            let pb = p.network().octets();
            put(&pb[..n], rfc6052_slots(p.prefix_len()), v);
        }
        E::SixToFour => put(&[0x20, 0x02], [2, 3, 4, 5], v),
        E::TeredoServer => put(&[0x20, 0x01, 0, 0], [4, 5, 6, 7], v),
        E::TeredoClient => put(&[0x20, 0x01, 0, 0], [12, 13, 14, 15], (!v4).to_be_bytes()),
        E::Isatap => put(
            &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0x02, 0, 0x5e, 0xfe],
            [12, 13, 14, 15],
            v,
        ),
        _ => {}
    }
    u128::from_be_bytes(b)
}

/// `embedded_v4`: the policy's IPv4-in-IPv6 decoding against an independent encoder, both
/// ways, and the policy verdict: an IPv4 entry cannot be bypassed by any enabled spelling.
pub(crate) fn embedded_v4(data: &[u8]) {
    use c2trie::policy::{EmbeddedV4, Encoding};
    use c2trie::{Mode, Policy, Verdict};
    let Ok(input) = EmbInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let mut emb = EmbeddedV4::all();
    for (i, e) in Encoding::ALL.iter().enumerate() {
        if input.disabled & (1 << i) != 0 {
            emb.set(*e, false);
        }
    }
    let mut prefixes = Vec::new();
    for &(a, l) in input.nat64.iter().take(4) {
        let len = RFC6052_LENS[usize::from(l) % RFC6052_LENS.len()];
        let p = Ipv6Net::new(Ipv6Addr::from(a), len)
            .unwrap_or_default()
            .trunc();
        emb.add_nat64_prefix(p).unwrap_or_else(|e| panic!("{e}"));
        prefixes.push(p);
    }

    // Sound: whatever is decoded is really there.
    let addr = Ipv6Addr::from(input.addr);
    let found: Vec<(Encoding, Ipv4Addr)> = emb.decode(addr).collect();
    assert!(
        found.len() <= Encoding::ALL.len() + prefixes.len(),
        "{found:?}"
    );
    for &(enc, v4) in &found {
        assert!(emb.is_enabled(enc), "{enc:?} is off");
        let v4 = u32::from(v4);
        let ok = if enc == Encoding::Nat64Operator {
            prefixes
                .iter()
                .any(|p| p.contains(&addr) && embed(enc, v4, input.addr, Some(*p)) == input.addr)
        } else {
            embed(enc, v4, input.addr, None) == input.addr
        };
        assert!(ok, "{addr} decoded as {enc:?} {}", Ipv4Addr::from(v4));
    }

    // Complete: an enabled spelling of v4 is decoded, and the policy blocks it.
    let enc = Encoding::ALL[usize::from(input.enc) % Encoding::ALL.len()];
    let prefix = prefixes
        .get(usize::from(input.enc) / 16 % prefixes.len().max(1))
        .copied();
    if !emb.is_enabled(enc) || (enc == Encoding::Nat64Operator && prefix.is_none()) {
        return;
    }
    let spelled = embed(enc, input.v4, input.noise, prefix);
    if enc == Encoding::Compatible && spelled <= 1 {
        return; // `::` and `::1` are not IPv4-compatible addresses
    }
    let v4 = Ipv4Addr::from(input.v4);
    let spelled = Ipv6Addr::from(spelled);
    assert!(
        emb.decode(spelled).any(|x| x == (enc, v4)),
        "{spelled} does not decode to {enc:?} {v4}"
    );
    let mut c = Compiler::new();
    c.created_unix(0);
    c.add(
        List::Blocked,
        IpNet::V4(Ipv4Net::from(v4)),
        "fuzz",
        Meta::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let table = Table::from_bytes(c.to_vec().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut policy = Policy::new(Mode::Off, Mode::Block);
    policy.embedded = emb;
    let d = policy.decide(&table, IpAddr::V6(spelled));
    assert_eq!(
        d.verdict(),
        Verdict::Block,
        "{spelled} ({enc:?} {v4}) bypassed the block"
    );
}
