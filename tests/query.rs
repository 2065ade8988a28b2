//! Prefix queries (`Table::covering`, `covering_net`, `within`) against a plain linear scan
//! over the `ipnet` prefixes that were compiled.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use c2trie::compile::Limits;
use c2trie::feed::{self, Feed, FeedOptions};
use c2trie::{Compiler, EntryRef, List, Meta, Table};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

/// One compiled entry: list, prefix, tag (the first added wins a duplicate).
type Row = (List, IpNet, String);

/// Compiles `entries` (each tagged with its position) and returns the table with the
/// distinct rows it should hold.
fn build(entries: &[(List, IpNet)]) -> (Table, Vec<Row>) {
    let mut c = Compiler::new();
    c.created_unix(0).limits(Limits::none());
    let mut rows: Vec<Row> = Vec::new();
    for (i, (list, net)) in entries.iter().enumerate() {
        let tag = format!("t{i}");
        c.add(*list, *net, "src", Meta::tagged(tag.clone()))
            .unwrap();
        if !rows.iter().any(|(l, n, _)| l == list && n == net) {
            rows.push((*list, *net, tag));
        }
    }
    (c.build().unwrap(), rows)
}

fn row(e: EntryRef<'_>) -> Row {
    (e.list(), e.prefix(), e.tag().unwrap_or("").to_owned())
}

fn by_len_then_list(a: &Row, b: &Row) -> std::cmp::Ordering {
    (a.1.prefix_len(), a.0).cmp(&(b.1.prefix_len(), b.0))
}

fn by_addr_len_list(a: &Row, b: &Row) -> std::cmp::Ordering {
    (a.1.network(), a.1.prefix_len(), a.0).cmp(&(b.1.network(), b.1.prefix_len(), b.0))
}

/// The oracle for `covering_net`: every row whose prefix contains `net`.
fn covering_oracle(rows: &[Row], net: IpNet) -> Vec<Row> {
    let mut want: Vec<Row> = rows
        .iter()
        .filter(|(_, n, _)| n.contains(&net))
        .cloned()
        .collect();
    want.sort_by(by_len_then_list);
    want
}

/// The oracle for `within`: every row whose prefix lies inside `net`.
fn within_oracle(rows: &[Row], net: IpNet) -> Vec<Row> {
    let mut want: Vec<Row> = rows
        .iter()
        .filter(|(_, n, _)| net.contains(n))
        .cloned()
        .collect();
    want.sort_by(by_addr_len_list);
    want
}

fn check_addr(table: &Table, rows: &[Row], addr: IpAddr) -> Result<(), TestCaseError> {
    let got: Vec<Row> = table.covering(addr).map(row).collect();
    prop_assert_eq!(
        &got,
        &covering_oracle(rows, IpNet::from(addr)),
        "covering {}",
        addr
    );
    // The last of each list is the lookup's answer.
    let hits = table.lookup(addr);
    for list in List::ALL {
        let last = got.iter().rev().find(|r| r.0 == list).map(|r| r.1);
        prop_assert_eq!(
            last,
            hits.get(list).map(|e| e.prefix()),
            "{} {}",
            list,
            addr
        );
    }
    Ok(())
}

fn check_net(table: &Table, rows: &[Row], net: IpNet) -> Result<(), TestCaseError> {
    let got: Vec<Row> = table.covering_net(net).map(row).collect();
    prop_assert_eq!(got, covering_oracle(rows, net), "covering_net {}", net);
    let got: Vec<Row> = table.within(net).map(row).collect();
    prop_assert_eq!(got, within_oracle(rows, net), "within {}", net);
    Ok(())
}

fn check_all(table: &Table, rows: &[Row], nets: &[IpNet]) -> Result<(), TestCaseError> {
    for net in nets {
        check_addr(table, rows, net.network())?;
        check_addr(table, rows, net.broadcast())?;
        check_net(table, rows, *net)?;
    }
    Ok(())
}

/// Query prefixes: each entry itself, its parents at a few lengths, its first address as a
/// host, plus the extra ones given.
fn query_nets(entries: &[(List, IpNet)], extra: &[IpNet]) -> Vec<IpNet> {
    let mut q: Vec<IpNet> = extra.to_vec();
    for (_, net) in entries {
        q.push(*net);
        let max = net.max_prefix_len();
        for len in [
            0,
            net.prefix_len() / 2,
            net.prefix_len().saturating_sub(1),
            max,
        ] {
            if let Ok(n) = IpNet::new(net.network(), len) {
                q.push(n.trunc());
            }
        }
        if let Ok(n) = IpNet::new(net.broadcast(), max.saturating_sub(2)) {
            q.push(n.trunc());
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

/// IPv4 prefixes, biased toward hosts and clustered so that they nest in several lists.
fn v4net() -> impl Strategy<Value = IpNet> {
    let len = prop_oneof![3 => Just(32u8), 2 => 0u8..=32, 2 => 20u8..=31];
    let addr = prop_oneof![
        1 => any::<u32>(),
        3 => (0u32..64).prop_map(|x| 0x0a00_0000 | (x << 2))
    ];
    (addr, len).prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()))
}

/// IPv6 prefixes, likewise. Random addresses keep their top bit set, so that none spells
/// an IPv4 address (the compiler would add that IPv4 prefix beside it).
fn v6net() -> impl Strategy<Value = IpNet> {
    let len = prop_oneof![3 => Just(128u8), 2 => 0u8..=128, 2 => 100u8..=127];
    let addr = prop_oneof![
        1 => any::<u128>().prop_map(|a| a | 1 << 127),
        3 => (0u128..64).prop_map(|x| (0x2001_0db8u128 << 96) | (x << 3))
    ];
    (addr, len).prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 3 } else { 128 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn v4_queries_agree_with_oracle(
        entries in prop::collection::vec((list(), v4net()), 0..100),
        extra in prop::collection::vec(v4net(), 0..16),
    ) {
        let (table, rows) = build(&entries);
        check_all(&table, &rows, &query_nets(&entries, &extra))?;
    }

    #[test]
    fn v6_queries_agree_with_oracle(
        entries in prop::collection::vec((list(), v6net()), 0..100),
        extra in prop::collection::vec(v6net(), 0..16),
    ) {
        let (table, rows) = build(&entries);
        check_all(&table, &rows, &query_nets(&entries, &extra))?;
    }

    #[test]
    fn mixed_family_queries_agree_with_oracle(
        v4 in prop::collection::vec((list(), v4net()), 0..50),
        v6 in prop::collection::vec((list(), v6net()), 0..50),
    ) {
        let mut entries = v4;
        entries.extend(v6);
        let (table, rows) = build(&entries);
        let mut nets = query_nets(&entries, &[]);
        nets.extend(["0.0.0.0/0", "::/0"].map(|s| s.parse::<IpNet>().unwrap()));
        check_all(&table, &rows, &nets)?;
        // The two /0 queries between them list the whole table.
        let all = table.within("0.0.0.0/0".parse().unwrap()).count()
            + table.within("::/0".parse().unwrap()).count();
        prop_assert_eq!(all, table.len());
    }
}

#[test]
fn nested_prefixes_in_every_list_and_a_host_in_two() {
    let entries: Vec<(List, IpNet)> = [
        (List::Global, "10.0.0.0/8"),
        (List::Global, "10.1.0.0/16"),
        (List::Global, "10.1.2.0/24"),
        (List::Blocked, "10.1.0.0/16"),
        (List::Blocked, "10.1.2.3/32"),
        (List::Approved, "10.1.2.3/32"),
        (List::Approved, "10.0.0.0/7"),
        (List::Global, "10.1.2.4/32"),
    ]
    .iter()
    .map(|(l, s)| (*l, s.parse().unwrap()))
    .collect();
    let (table, _) = build(&entries);
    let covering: Vec<String> = table
        .covering("10.1.2.3".parse().unwrap())
        .map(|e| format!("{} {}", e.list(), e.prefix()))
        .collect();
    assert_eq!(
        covering,
        [
            "approved 10.0.0.0/7",
            "global 10.0.0.0/8",
            "blocked 10.1.0.0/16",
            "global 10.1.0.0/16",
            "global 10.1.2.0/24",
            "approved 10.1.2.3/32",
            "blocked 10.1.2.3/32",
        ]
    );
    let within: Vec<String> = table
        .within("10.1.0.0/16".parse().unwrap())
        .map(|e| format!("{} {}", e.list(), e.prefix()))
        .collect();
    assert_eq!(
        within,
        [
            "blocked 10.1.0.0/16",
            "global 10.1.0.0/16",
            "global 10.1.2.0/24",
            "approved 10.1.2.3/32",
            "blocked 10.1.2.3/32",
            "global 10.1.2.4/32",
        ]
    );
    // A host query: the host entries themselves, and nothing for a neighbour.
    let host: Vec<_> = table
        .within("10.1.2.4/32".parse().unwrap())
        .map(|e| e.list())
        .collect();
    assert_eq!(host, [List::Global]);
    assert_eq!(table.within("10.1.2.5/32".parse().unwrap()).count(), 0);
    // Host bits in the query are ignored.
    assert_eq!(
        table.covering_net("10.1.2.99/24".parse().unwrap()).count(),
        5
    );
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

fn read(rel: &str) -> Feed {
    let path = data().join(rel);
    let f = feed::read_file(&path, &FeedOptions::new())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(f.errors.is_empty(), "{rel}: {:?}", f.errors.first());
    f
}

/// Real feeds, nested across lists: FireHOL level 1 (broad prefixes) as the global list,
/// level 2 (mostly hosts) as the blocked list, Spamhaus DROP for IPv6 as the approved list.
#[test]
#[cfg_attr(miri, ignore = "real feeds: too slow interpreted")]
fn real_feeds_agree_with_oracle() {
    let feeds = [
        (
            List::Global,
            read("firehol-netsets/2017-11-04/firehol_level1.netset"),
        ),
        (
            List::Blocked,
            read("firehol-netsets/2017-11-04/firehol_level2.netset"),
        ),
        (
            List::Approved,
            read("spamhaus-drop/secops-mirror-2024-02-27/drop_ipv6.txt"),
        ),
        (
            List::Approved,
            read("spamhaus-drop/original-2023-02-20/drop.txt"),
        ),
    ];
    let mut c = Compiler::new();
    c.created_unix(0).limits(Limits::none());
    let mut rows: Vec<(List, IpNet)> = Vec::new();
    let mut seen = HashSet::new();
    for (list, f) in &feeds {
        c.add_feed(*list, f).unwrap();
        for e in &f.entries {
            if seen.insert((*list, e.net)) {
                rows.push((*list, e.net));
            }
        }
    }
    let table = c.build().unwrap();
    assert_eq!(table.len(), rows.len());
    let key = |e: EntryRef<'_>| (e.list(), e.prefix());
    let covering = |net: IpNet| {
        let mut v: Vec<_> = rows
            .iter()
            .filter(|(_, n)| n.contains(&net))
            .copied()
            .collect();
        v.sort_by_key(|(l, n)| (n.prefix_len(), *l));
        v
    };
    let within = |net: IpNet| {
        let mut v: Vec<_> = rows
            .iter()
            .filter(|(_, n)| net.contains(n))
            .copied()
            .collect();
        v.sort_by_key(|(l, n)| (n.network(), n.prefix_len(), *l));
        v
    };
    // Every 97th entry, its parents and its first address; plus a few broad prefixes.
    let mut nets: Vec<IpNet> = ["0.0.0.0/0", "::/0", "10.0.0.0/8", "2a00::/12"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    for (_, net) in rows.iter().step_by(97) {
        nets.push(*net);
        for len in [8, 16, 20, 24, 28, 30] {
            if len < net.prefix_len() {
                nets.push(IpNet::new(net.network(), len).unwrap().trunc());
            }
        }
        nets.push(IpNet::from(net.network()));
    }
    let mut found = 0;
    for net in &nets {
        let got: Vec<_> = table.covering_net(*net).map(key).collect();
        assert_eq!(got, covering(*net), "covering_net {net}");
        let got: Vec<_> = table.within(*net).map(key).collect();
        found += got.len();
        assert_eq!(got, within(*net), "within {net}");
    }
    assert!(found > rows.len(), "{found}");
}
