//! Differential tests: every lookup agrees with a plain linear scan over `ipnet` prefixes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use c2trie::compile::Limits;
use c2trie::policy::{EmbeddedV4, Encoding};
use c2trie::{Compiler, List, Meta, Mode, Policy, Table};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

/// The oracle: for each list, the longest prefix containing the address.
fn oracle(entries: &[(List, IpNet)], addr: IpAddr) -> [Option<IpNet>; 3] {
    let mut best: [Option<IpNet>; 3] = [None; 3];
    for (list, net) in entries {
        if net.contains(&addr) {
            let slot = &mut best[list.index()];
            if slot.is_none_or(|b| b.prefix_len() < net.prefix_len()) {
                *slot = Some(*net);
            }
        }
    }
    best
}

fn build(entries: &[(List, IpNet)]) -> Table {
    let mut c = Compiler::new();
    // Arbitrary prefixes include /0 in the global list: lift the poisoned-feed guards.
    c.created_unix(0).limits(Limits::none());
    for (i, (list, net)) in entries.iter().enumerate() {
        c.add(
            *list,
            *net,
            &format!("src{}", i % 3),
            Meta::tagged(format!("t{i}")),
        )
        .unwrap();
    }
    Table::from_bytes(c.to_vec().unwrap()).unwrap()
}

fn check(table: &Table, entries: &[(List, IpNet)], addr: IpAddr) -> Result<(), TestCaseError> {
    check_hits(entries, addr, table.lookup(addr), "single")
}

fn check_hits(
    entries: &[(List, IpNet)],
    addr: IpAddr,
    hits: c2trie::Hits<'_>,
    how: &str,
) -> Result<(), TestCaseError> {
    let want = oracle(entries, addr);
    prop_assert_eq!(hits.addr(), addr);
    for list in List::ALL {
        let got = hits.get(list).map(|e| e.prefix());
        prop_assert_eq!(
            got,
            want[list.index()],
            "{} list {} addr {}",
            how,
            list,
            addr
        );
        prop_assert_eq!(hits.contains(list), got.is_some());
    }
    Ok(())
}

/// Every query, one by one and through each batch API.
fn check_all(
    table: &Table,
    entries: &[(List, IpNet)],
    queries: &[IpAddr],
) -> Result<(), TestCaseError> {
    for q in queries {
        check(table, entries, *q)?;
    }
    let mut out = Vec::new();
    table.lookup_batch(queries, &mut out);
    prop_assert_eq!(out.len(), queries.len());
    for (q, h) in queries.iter().zip(&out) {
        check_hits(entries, *q, *h, "batch")?;
    }
    let v4: Vec<Ipv4Addr> = queries
        .iter()
        .filter_map(|q| match q {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .collect();
    table.lookup_v4_batch(&v4, &mut out);
    prop_assert_eq!(out.len(), v4.len());
    for (q, h) in v4.iter().zip(&out) {
        check_hits(entries, IpAddr::V4(*q), *h, "v4 batch")?;
    }
    let v6: Vec<Ipv6Addr> = queries
        .iter()
        .filter_map(|q| match q {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        })
        .collect();
    table.lookup_v6_batch(&v6, &mut out);
    prop_assert_eq!(out.len(), v6.len());
    for (q, h) in v6.iter().zip(&out) {
        check_hits(entries, IpAddr::V6(*q), *h, "v6 batch")?;
    }
    check_decisions(table, &v4, &v6)
}

/// Batch decisions ([`Policy::decide_v4_each`], [`Policy::decide_v6_each`]) are the single
/// ones, address by address, under policies that turn lists and encodings on and off and
/// add an operator NAT64 prefix: for the queries, and for an IPv6 spelling of each of the
/// first IPv4 queries, every encoding in turn.
fn check_decisions(table: &Table, v4: &[Ipv4Addr], v6: &[Ipv6Addr]) -> Result<(), TestCaseError> {
    let mut v6 = v6.to_vec();
    for (i, a) in v4.iter().take(200).enumerate() {
        let x = u128::from(u32::from(*a));
        let teredo_client = u128::from(!u32::from(*a));
        v6.push(Ipv6Addr::from(match i % 11 {
            // Mapped, compatible, translated, NAT64 (RFC 6052, then RFC 8215's /48 form).
            0 => (0xffff << 32) | x,
            1 => x,
            2 => (0xffff_0000 << 32) | x,
            3 => (0x64_ff9b << 96) | x,
            4 => (0x64_ff9b_0001 << 80) | ((x >> 16) << 64) | ((x & 0xffff) << 40),
            // The operator NAT64 prefix, 6to4, Teredo (server and client).
            5 => (0x2001_0db8_0064 << 80) | x,
            6 => (0x2002 << 112) | (x << 80),
            7 => (0x2001_0000 << 96) | (x << 64) | teredo_client,
            // ISATAP, without and with the u bit; then no encoding.
            8 => (0x2001_0db8_0001_0002 << 64) | (0x5efe << 32) | x,
            9 => (0x2a00_1450 << 96) | (0x0200_5efe << 32) | x,
            _ => (0x2001_0db8 << 96) | x,
        }));
    }
    let mut plain = Policy::new(Mode::Off, Mode::Block);
    plain.embedded = EmbeddedV4::none();
    let mut some = Policy::new(Mode::LogOnly, Mode::Block);
    some.embedded = EmbeddedV4::none()
        .with(Encoding::Nat64Operator, true)
        .with(Encoding::TeredoClient, true)
        .with(Encoding::Isatap, true)
        .with(Encoding::Nat64LocalUse, true);
    let mut operator = Policy::new(Mode::Block, Mode::LogOnly);
    for p in [&mut some, &mut operator] {
        p.embedded
            .add_nat64_prefix("2001:db8:64::/96".parse().unwrap())
            .unwrap();
    }
    for p in [Policy::default(), operator, plain, some] {
        let mut got = Vec::new();
        p.decide_v4_each(table, v4, |d| got.push(d));
        prop_assert_eq!(got.len(), v4.len());
        for (a, d) in v4.iter().zip(&got) {
            prop_assert_eq!(*d, p.decide(table, IpAddr::V4(*a)), "{:?}", p);
        }
        got.clear();
        p.decide_v6_each(table, &v6, |d| got.push(d));
        prop_assert_eq!(got.len(), v6.len());
        for (a, d) in v6.iter().zip(&got) {
            prop_assert_eq!(*d, p.decide(table, IpAddr::V6(*a)), "{:?}", p);
        }
    }
    Ok(())
}

/// The entries without repeats, in first-seen order (what the table holds).
fn distinct(entries: &[(List, IpNet)]) -> Vec<(List, IpNet)> {
    let mut out = Vec::new();
    for e in entries {
        if !out.contains(e) {
            out.push(*e);
        }
    }
    out
}

/// Queries at each prefix's first and last address and one beyond each.
fn edge_queries(entries: &[(List, IpNet)]) -> Vec<IpAddr> {
    let mut q = Vec::new();
    for (_, net) in entries {
        match net {
            IpNet::V4(n) => {
                let (lo, hi) = (u32::from(n.network()), u32::from(n.broadcast()));
                for a in [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)] {
                    q.push(IpAddr::V4(Ipv4Addr::from(a)));
                }
            }
            IpNet::V6(n) => {
                let (lo, hi) = (u128::from(n.network()), u128::from(n.broadcast()));
                for a in [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)] {
                    q.push(IpAddr::V6(Ipv6Addr::from(a)));
                }
            }
        }
    }
    q
}

fn list() -> impl Strategy<Value = List> {
    prop_oneof![
        Just(List::Approved),
        Just(List::Blocked),
        Just(List::Global)
    ]
}

/// IPv4 prefixes, biased toward hosts and clustered so that they nest and collide.
fn v4net() -> impl Strategy<Value = IpNet> {
    let len = prop_oneof![3 => Just(32u8), 2 => 0u8..=32, 1 => 20u8..=31];
    let addr = prop_oneof![
        any::<u32>(),
        (0u32..64).prop_map(|x| 0x0a00_0000 | (x << 2))
    ];
    (addr, len).prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()))
}

fn v6net() -> impl Strategy<Value = IpNet> {
    let len = prop_oneof![3 => Just(128u8), 2 => 0u8..=128, 1 => 100u8..=127];
    let addr = prop_oneof![
        any::<u128>(),
        (0u128..64).prop_map(|x| (0x2001_0db8u128 << 96) | (x << 3))
    ];
    (addr, len).prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()))
}

/// IPv6 prefixes of a small abuse list: /17 to /48 in a few /16 blocks (nested, across
/// lists), some /16 or shorter covering whole blocks, and some hosts. Most such lists are
/// answered through the table's prefix groups rather than the trie.
fn v6_short_net() -> impl Strategy<Value = IpNet> {
    let len = prop_oneof![6 => 17u8..=48, 1 => 8u8..=16, 1 => Just(128u8)];
    let block = prop_oneof![
        Just(0x2001u128),
        Just(0x2a0eu128),
        Just(0x2a0fu128),
        Just(0x2c0fu128),
        Just(0x2400u128),
    ];
    let low = prop_oneof![(0u128..8).prop_map(|x| x << 93), any::<u128>()];
    (block, low, len).prop_map(|(b, low, l)| {
        let a = (b << 112) | (low & (u128::MAX >> 16));
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
    })
}

/// IPv6 prefixes of an abuse list with few prefix lengths: /20, /32, /48 and /64, nested
/// across lists under a few /32s, and hosts. Most such
/// lists are answered through the table's per-length prefix tables rather than the trie.
fn v6_lengths_net() -> impl Strategy<Value = IpNet> {
    let len = prop_oneof![
        3 => Just(64u8),
        2 => Just(48u8),
        1 => Just(32u8),
        2 => Just(128u8),
        1 => Just(20u8),
    ];
    // The /32 `::` too: its prefixes' keys are 0, the key of a slot before it is filled.
    let top = prop_oneof![
        Just(0x2001_0db8u128),
        Just(0x2a0e_1c80u128),
        Just(0u128),
        any::<u32>().prop_map(u128::from),
    ];
    let low = prop_oneof![(0u128..16).prop_map(|x| x << 76), any::<u128>()];
    (top, low, len).prop_map(|(t, low, l)| {
        let a = (t << 96) | (low & (u128::MAX >> 32));
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
    })
}

/// A fixed-seed xorshift generator, for the tests that build large lists.
fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Entry counts per case: small under Miri, where every compile is interpreted.
const fn max_entries(native: usize) -> usize {
    if cfg!(miri) { 12 } else { native }
}

proptest! {
    // Miri interprets every step: a few cases there exercise the reader's code paths.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 3 } else { 256 },
        failure_persistence: if cfg!(miri) { None } else { ProptestConfig::default().failure_persistence },
        ..ProptestConfig::default()
    })]

    #[test]
    fn v4_agrees_with_oracle(
        entries in prop::collection::vec((list(), v4net()), 0..max_entries(120)),
        extra in prop::collection::vec(any::<u32>(), 0..64),
    ) {
        let table = build(&entries);
        let dedup = distinct(&entries);
        let mut queries = edge_queries(&dedup);
        queries.extend(extra.into_iter().map(|a| IpAddr::V4(a.into())));
        queries.push(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        queries.push(IpAddr::V4(Ipv4Addr::BROADCAST));
        check_all(&table, &dedup, &queries)?;
    }

    #[test]
    fn v6_agrees_with_oracle(
        entries in prop::collection::vec((list(), v6net()), 0..max_entries(120)),
        extra in prop::collection::vec(any::<u128>(), 0..64),
    ) {
        let table = build(&entries);
        let dedup = distinct(&entries);
        let mut queries = edge_queries(&dedup);
        queries.extend(extra.into_iter().map(|a| IpAddr::V6(a.into())));
        queries.push(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        queries.push(IpAddr::V6(Ipv6Addr::from(u128::MAX)));
        check_all(&table, &dedup, &queries)?;
    }

    #[test]
    fn short_v6_lists_agree_with_oracle(
        entries in prop::collection::vec((list(), v6_short_net()), 0..max_entries(48)),
        extra in prop::collection::vec(any::<u128>(), 0..64),
    ) {
        let table = build(&entries);
        let dedup = distinct(&entries);
        let mut queries = edge_queries(&dedup);
        queries.extend(extra.into_iter().map(|a| IpAddr::V6(a.into())));
        // Random addresses inside each prefix, and in its block outside it.
        for (i, (_, net)) in dedup.iter().enumerate() {
            if let IpNet::V6(n) = net {
                let r = u128::from(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
                let lo = u128::from(n.network());
                queries.push(IpAddr::V6(Ipv6Addr::from(lo | (r & !u128::from(n.netmask())))));
                queries.push(IpAddr::V6(Ipv6Addr::from((lo & (u128::MAX << 112)) | (r >> 16))));
            }
        }
        check_all(&table, &dedup, &queries)?;
    }

    #[test]
    fn few_length_v6_lists_agree_with_oracle(
        entries in prop::collection::vec((list(), v6_lengths_net()), 1..max_entries(160)),
        extra in prop::collection::vec(any::<u128>(), 0..64),
    ) {
        let mut entries = entries;
        // A /64, so that the list does not fit the prefix groups (none longer than /48).
        entries.push((List::Global, "2001:db8:0:1::/64".parse().unwrap()));
        let table = build(&entries);
        let dedup = distinct(&entries);
        let mut queries = edge_queries(&dedup);
        queries.extend(extra.into_iter().map(|a| IpAddr::V6(a.into())));
        // Random addresses inside each prefix, and beside it in its /32.
        for (i, (_, net)) in dedup.iter().enumerate() {
            if let IpNet::V6(n) = net {
                let r = u128::from(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
                let lo = u128::from(n.network());
                queries.push(IpAddr::V6(Ipv6Addr::from(lo | (r & !u128::from(n.netmask())))));
                queries.push(IpAddr::V6(Ipv6Addr::from((lo & (u128::MAX << 96)) | (r >> 32))));
            }
        }
        check_all(&table, &dedup, &queries)?;
    }

    #[test]
    fn mixed_families_agree_with_oracle(
        v4 in prop::collection::vec((list(), v4net()), 0..max_entries(60)),
        v6 in prop::collection::vec((list(), v6net()), 0..max_entries(60)),
    ) {
        let mut entries = v4;
        entries.extend(v6);
        let table = build(&entries);
        let dedup = distinct(&entries);
        let mut queries = edge_queries(&dedup);
        let third = queries.len() / 3;
        queries.rotate_left(third);
        check_all(&table, &dedup, &queries)?;
    }
}

#[test]
#[cfg_attr(miri, ignore = "thousands of entries: too slow interpreted")]
fn large_host_heavy_table_agrees_with_oracle() {
    // A few thousand entries push the direct table to 16 bits and the trie several levels
    // deep; the queries hit every entry's edges.
    let mut next = xorshift(0x1234_5678_9abc_def0);
    let mut entries = Vec::new();
    for i in 0..6000u64 {
        let r = next();
        let len = match i % 10 {
            0..=7 => 32,
            8 => 24,
            _ => 8 + (r % 16) as u8,
        };
        let list = List::ALL[(r >> 40) as usize % 3];
        let net = Ipv4Net::new(Ipv4Addr::from((r >> 8) as u32), len)
            .unwrap()
            .trunc();
        entries.push((list, IpNet::V4(net)));
    }
    let table = build(&entries);
    let mut dedup = std::collections::HashSet::new();
    let entries: Vec<_> = entries.into_iter().filter(|e| dedup.insert(*e)).collect();
    for q in edge_queries(&entries).into_iter().step_by(7) {
        let want = oracle(&entries, q);
        let hits = table.lookup(q);
        for list in List::ALL {
            assert_eq!(
                hits.get(list).map(|e| e.prefix()),
                want[list.index()],
                "{list} {q}"
            );
        }
    }
}

#[test]
fn ipv4_mapped_entries_match_ipv4_queries() {
    let mut c = Compiler::new();
    c.add(
        List::Global,
        "::ffff:192.0.2.0/120".parse().unwrap(),
        "f",
        Meta::default(),
    )
    .unwrap();
    c.add(
        List::Blocked,
        "::ffff:198.51.100.7/128".parse().unwrap(),
        "f",
        Meta::default(),
    )
    .unwrap();
    // The same prefix spelled as IPv4 is a duplicate of the mapped one.
    assert!(
        !c.add(
            List::Global,
            "192.0.2.0/24".parse().unwrap(),
            "g",
            Meta::default()
        )
        .unwrap()
    );
    let t = Table::from_bytes(c.to_vec().unwrap()).unwrap();
    let hits = t.lookup("192.0.2.9".parse().unwrap());
    assert_eq!(
        hits.get(List::Global).unwrap().prefix().to_string(),
        "192.0.2.0/24"
    );
    let hits = t.lookup("198.51.100.7".parse().unwrap());
    assert_eq!(
        hits.get(List::Blocked).unwrap().prefix().to_string(),
        "198.51.100.7/32"
    );
    assert_eq!(t.count(List::Global, true), 0);
}

/// Deep prefixes: many of one length (so the compiler builds a jump table, of leaf entries
/// at that length or of node entries at a node depth), mixed with longer prefixes inside
/// some of them (regions that are not uniform), the same prefix on several lists, and
/// random others. Both families, lookups single and batched, against the oracle.
#[test]
#[cfg_attr(miri, ignore = "hundreds of entries per table: too slow interpreted")]
fn deep_prefixes_with_jump_tables_agree_with_oracle() {
    let mut next = xorshift(0x0bad_5eed_1234_5678);
    let (mut leaf_jumps, mut node_jumps) = (0, 0);
    for case in 0..48u32 {
        let v6 = case % 2 == 0;
        let bits: u8 = if v6 { 128 } else { 32 };
        // The dominant length: a node depth of some direct-table width, or not.
        let dominant: u8 = if v6 {
            [64, 48, 50, 60, 61, 100][(case / 2) as usize % 6]
        } else {
            [30, 29, 31, 28][(case / 2) as usize % 4]
        };
        let n = 80 + (next() % 160) as usize;
        let mut entries = Vec::new();
        for i in 0..n {
            let r = next();
            let list = List::ALL[(r >> 60) as usize % 3];
            let len = match i % 8 {
                0..=4 => dominant,
                // A longer prefix inside the previous entry: not uniform there.
                5 => dominant.saturating_add(1 + (r % 6) as u8).min(bits - 1),
                6 => 8 + (r % u64::from(bits - 8)) as u8,
                _ => bits,
            };
            let net = if v6 {
                // Under one /32 for most, so the trie is deep; the previous entry's
                // address for the longer ones.
                let base = match (i % 8, entries.last()) {
                    (5, Some((_, IpNet::V6(p)))) => u128::from(p.network()),
                    _ => {
                        (0x2001_0db8u128 << 96) | (u128::from(r as u32) << 64) | u128::from(r >> 40)
                    }
                };
                IpNet::V6(
                    Ipv6Net::new(Ipv6Addr::from(base | u128::from(r & 0xffff) << 40), len)
                        .unwrap()
                        .trunc(),
                )
            } else {
                let base = match (i % 8, entries.last()) {
                    (5, Some((_, IpNet::V4(p)))) => u32::from(p.network()),
                    _ => 0x0a00_0000 | ((r >> 8) as u32 & 0x00ff_ffff),
                };
                IpNet::V4(
                    Ipv4Net::new(Ipv4Addr::from(base | (r as u32 & 0xff)), len)
                        .unwrap()
                        .trunc(),
                )
            };
            entries.push((list, net));
            // The same prefix on another list now and then.
            if r.is_multiple_of(11) {
                entries.push((List::ALL[(list.index() + 1) % 3], net));
            }
        }
        let table = build(&entries);
        let depth = table.as_bytes()[if v6 { 65 } else { 64 }];
        if depth != 0 {
            if depth == dominant {
                leaf_jumps += 1
            } else {
                node_jumps += 1
            }
        }
        let mut dedup = Vec::new();
        for e in &entries {
            if !dedup.contains(e) {
                dedup.push(*e);
            }
        }
        let mut queries = edge_queries(&dedup);
        for _ in 0..200 {
            let r = u128::from(next()) << 64 | u128::from(next());
            queries.push(if v6 {
                IpAddr::V6(Ipv6Addr::from((0x2001_0db8u128 << 96) | (r >> 32)))
            } else {
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (r as u32 & 0x00ff_ffff)))
            });
        }
        check_all(&table, &dedup, &queries).unwrap_or_else(|e| panic!("case {case}: {e}"));
    }
    // The cases exercise both kinds of jump entry.
    assert!(
        leaf_jumps >= 8,
        "{leaf_jumps} tables with leaf jump entries"
    );
    assert!(
        node_jumps >= 2,
        "{node_jumps} tables with node jump entries"
    );
}
