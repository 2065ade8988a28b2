//! Every real feed in `../shared/data`, compiled and checked against an independent oracle
//! on at least 100,000 lookups each.
//!
//! The oracle keeps each list's prefixes in a hash set and, for a query, tries every prefix
//! length from the longest down: simple enough to trust, and unrelated to the trie.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use c2trie::compile::Limits;
use c2trie::feed::{self, Feed, FeedOptions};
use c2trie::{Compiler, List, Table};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

fn data() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        p.is_dir(),
        "{} is missing: the real-feed tests need it",
        p.display()
    );
    p
}

fn read(rel: &str) -> Feed {
    let path = data().join(rel);
    let f = feed::read_file(&path, &FeedOptions::new())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        f.errors.is_empty(),
        "{rel}: {:?}",
        &f.errors[..f.errors.len().min(5)]
    );
    f
}

#[derive(Default)]
struct Oracle {
    lists: [HashSet<IpNet>; 3],
}

impl Oracle {
    fn add(&mut self, list: List, net: IpNet) {
        self.lists[list.index()].insert(net.trunc());
    }

    fn longest(&self, list: List, addr: IpAddr) -> Option<IpNet> {
        let set = &self.lists[list.index()];
        match addr {
            IpAddr::V4(a) => (0..=32u8)
                .rev()
                .map(|l| IpNet::V4(Ipv4Net::new(a, l).unwrap().trunc()))
                .find(|n| set.contains(n)),
            IpAddr::V6(a) => (0..=128u8)
                .rev()
                .map(|l| IpNet::V6(Ipv6Net::new(a, l).unwrap().trunc()))
                .find(|n| set.contains(n)),
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Queries: each entry's first and last address and the ones just outside, then random
/// addresses inside and around the entries, until `n`.
fn queries(entries: &[IpNet], n: usize, seed: u64) -> Vec<IpAddr> {
    let mut rng = Rng(seed | 1);
    let mut q = Vec::with_capacity(n + 4 * entries.len());
    for net in entries {
        match net {
            IpNet::V4(v) => {
                let (lo, hi) = (u32::from(v.network()), u32::from(v.broadcast()));
                for a in [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)] {
                    q.push(IpAddr::V4(Ipv4Addr::from(a)));
                }
            }
            IpNet::V6(v) => {
                let (lo, hi) = (u128::from(v.network()), u128::from(v.broadcast()));
                for a in [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)] {
                    q.push(IpAddr::V6(Ipv6Addr::from(a)));
                }
            }
        }
    }
    while q.len() < n {
        let r = rng.next();
        let base = entries[(r as usize) % entries.len().max(1)];
        let addr = match (base, r % 4) {
            (_, 0) => IpAddr::V4(Ipv4Addr::from((r >> 32) as u32)),
            (IpNet::V4(v), _) => {
                let span = !u32::from(v.netmask());
                IpAddr::V4(Ipv4Addr::from(
                    u32::from(v.network()) | ((r >> 16) as u32 & span),
                ))
            }
            (IpNet::V6(v), _) => {
                let span = !u128::from(v.netmask());
                let noise = (u128::from(rng.next()) << 64) | u128::from(rng.next());
                IpAddr::V6(Ipv6Addr::from(u128::from(v.network()) | (noise & span)))
            }
        };
        q.push(addr);
    }
    q
}

/// Compiles `(list, feed)` pairs, then checks at least `n` lookups against the oracle.
fn check(feeds: &[(List, &Feed)], n: usize) -> usize {
    let mut c = Compiler::new();
    // These tests check lookups, not the poisoned-feed guards (tests/limits.rs does):
    // country blocks and FireHOL's bogons are broader than the global defaults allow.
    c.created_unix(0).limits(Limits::none());
    let mut oracle = Oracle::default();
    let mut all = Vec::new();
    for (list, f) in feeds {
        c.add_feed(*list, f).unwrap();
        for e in &f.entries {
            oracle.add(*list, e.net);
            all.push(e.net);
        }
    }
    let table = Table::from_bytes(c.to_vec().unwrap()).unwrap();
    let qs = queries(&all, n, all.len() as u64);
    for q in &qs {
        let hits = table.lookup(*q);
        for list in List::ALL {
            assert_eq!(
                hits.get(list).map(|e| e.prefix()),
                oracle.longest(list, *q),
                "{list} {q}"
            );
        }
    }
    qs.len()
}

#[test]
fn feodo_snapshots() {
    for f in [
        "abusech-feodo-csv/ipblocklist.csv.20240403T1854",
        "abusech-feodo-csv/ipblocklist.csv.20240404T0848",
        "abusech-feodo-csv/ipblocklist.csv.20240404T1905",
    ] {
        assert!(check(&[(List::Global, &read(f))], 100_000) >= 100_000);
    }
}

#[test]
fn sslbl_and_spamhaus() {
    let drop = read("spamhaus-drop/original-2023-02-20/drop.txt");
    let edrop = read("spamhaus-drop/secops-mirror-2024-02-27/edrop.txt");
    let drop6 = read("spamhaus-drop/secops-mirror-2024-02-27/drop_ipv6.txt");
    let ssl = read("abusech-sslbl/sslipblacklist.csv");
    check(
        &[
            (List::Global, &drop),
            (List::Global, &drop6),
            (List::Blocked, &edrop),
        ],
        100_000,
    );
    check(&[(List::Global, &ssl)], 100_000);
}

#[test]
fn firehol_netsets_with_approved_overlap() {
    let l1 = read("firehol-netsets/2017-11-04/firehol_level1.netset");
    let l2 = read("firehol-netsets/2017-11-04/firehol_level2.netset");
    let l1b = read("firehol-netsets/2021-06-28/firehol_level1.netset");
    check(
        &[
            (List::Global, &l1),
            (List::Blocked, &l2),
            (List::Approved, &l1b),
        ],
        150_000,
    );
}

#[test]
fn ipsum_levels_as_nested_lists() {
    let all = read("stamparm-ipsum/ipsum.txt");
    let l3 = read("stamparm-ipsum/levels/3.txt");
    let l6 = read("stamparm-ipsum/levels/6.txt");
    check(
        &[
            (List::Global, &all),
            (List::Blocked, &l3),
            (List::Approved, &l6),
        ],
        200_000,
    );
}

#[test]
fn criticalpath_feeds() {
    let names = [
        "alienvault.txt",
        "avanzato_c2.txt",
        "binarydefense.txt",
        "cobaltstrike_ips.txt",
        "compromised-ips.txt",
        "sans.txt",
        "threatfox.txt",
        "tor-exit.txt",
    ];
    let feeds: Vec<Feed> = names
        .iter()
        .map(|n| read(&format!("criticalpath-public-intel-feeds/{n}")))
        .collect();
    let lists: Vec<(List, &Feed)> = feeds
        .iter()
        .enumerate()
        .map(|(i, f)| (List::ALL[i % 3], f))
        .collect();
    check(&lists, 200_000);
}

#[test]
fn country_blocks_v4_and_v6() {
    let dir = data().join("ipverse-country-ip-blocks/country");
    let mut feeds = Vec::new();
    let mut countries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    countries.sort();
    for (i, c) in countries.iter().enumerate() {
        for fam in ["ipv4-aggregated.txt", "ipv6-aggregated.txt"] {
            let path = c.join(fam);
            if path.exists() {
                let f = feed::read_file(&path, &FeedOptions::new()).unwrap();
                assert!(f.errors.is_empty());
                feeds.push((List::ALL[i % 3], f));
            }
        }
    }
    let refs: Vec<(List, &Feed)> = feeds.iter().map(|(l, f)| (*l, f)).collect();
    check(&refs, 300_000);
}

/// The blocks of four countries, IPv4 and IPv6, each country its own list: under 32,768
/// answers a family, so both families' lookups go through their expansions.
#[test]
fn country_blocks_of_four_countries() {
    let dir = data().join("ipverse-country-ip-blocks/country");
    let mut feeds = Vec::new();
    for (c, list) in [
        ("cn", List::Global),
        ("ru", List::Global),
        ("ir", List::Blocked),
        ("kp", List::Approved),
    ] {
        for fam in ["ipv4-aggregated.txt", "ipv6-aggregated.txt"] {
            let path = dir.join(c).join(fam);
            if path.exists() {
                let f = feed::read_file(&path, &FeedOptions::new()).unwrap();
                assert!(f.errors.is_empty() && !f.entries.is_empty());
                feeds.push((list, f));
            }
        }
    }
    let refs: Vec<(List, &Feed)> = feeds.iter().map(|(l, f)| (*l, f)).collect();
    check(&refs, 300_000);
}

#[cfg(feature = "gzip")]
#[test]
fn bgp_tables() {
    let v4 = read("bgp-ribs-pyasn/ipasn_20140513.dat.gz");
    assert_eq!(v4.entries.len(), 512_621);
    check(&[(List::Global, &v4)], 200_000);
    let mixed = read("bgp-ribs-pyasn/ipasn6_20151101.dat.gz");
    assert_eq!(mixed.entries.len(), 633_831);
    check(&[(List::Global, &mixed)], 200_000);
}
