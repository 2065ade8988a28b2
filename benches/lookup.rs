//! Lookup throughput: c2trie side by side with other Rust prefix matchers, on the same
//! prefixes and the same precomputed queries.
//!
//! Each benchmark iteration runs all `QUERIES` queries and sums a value derived from each
//! answer, so no structure can skip a lookup. Peers report `is_some()` (their cheapest
//! answer); c2trie reports either the verdict (`contains`) or the matched prefix length.
//!
//! Environment filters (to save build time; criterion's own filter still applies):
//! `BENCH_SETS=v4-10k,ipsum` picks datasets, `BENCH_ONLY=c2trie,poptrie` picks structures.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use c2trie::{List, Table};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{Ipv4Net, Ipv6Net};

mod common;
use common::*;

fn wanted(var: &str, name: &str) -> bool {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v.split(',').any(|w| w == name),
        _ => true,
    }
}

/// Sums `f` over the queries.
#[inline(always)]
fn run<A: Copy>(qs: &[A], f: impl Fn(A) -> u64) -> u64 {
    let mut n = 0u64;
    for &q in qs {
        n = n.wrapping_add(f(q));
    }
    n
}

/// A named lookup over one family's queries.
type Probe<'a, A> = (&'static str, Box<dyn Fn(&[A]) -> u64 + 'a>);

fn bench<A: Addr>(c: &mut Criterion, set: &str, nets: &[(A, u8)], probes: &[Probe<'_, A>]) {
    let queries = [
        ("uniform", uniform::<A>(SEED)),
        ("mixed", mixed(nets, SEED)),
    ];
    for (qname, qs) in &queries {
        // Every structure must find the same number of hits (the host set excepted).
        let mut expected: Option<u64> = None;
        let mut g: BenchmarkGroup<'_, WallTime> = c.benchmark_group(format!("{set}/{qname}"));
        g.throughput(Throughput::Elements(qs.len() as u64));
        for (name, probe) in probes {
            let hits = probe(qs);
            if name.starts_with("hit-count") {
                match expected {
                    None => expected = Some(hits),
                    Some(e) => assert_eq!(e, hits, "{set}/{qname}: {name} disagrees"),
                }
                continue;
            }
            g.bench_function(*name, |b| b.iter(|| probe(black_box(qs))));
        }
        if let Some(e) = expected {
            eprintln!("{set}/{qname}: {e} of {} queries hit", qs.len());
        }
        g.finish();
    }
}

fn v4(c: &mut Criterion, set: &str, nets: &[(u32, u8)]) {
    if !wanted("BENCH_SETS", set) {
        return;
    }
    let all = |n| wanted("BENCH_ONLY", n);
    let table = all("c2trie").then(|| c2trie_table(nets));
    let ptrie = all("prefix-trie").then(|| prefix_trie4(nets));
    let pop = all("poptrie").then(|| poptrie(nets));
    let ipt = all("iptrie").then(|| iptrie4(nets));
    let int = all("ip_network_table").then(|| ip_network_table(nets));
    let hosts = (all("hashset") && has_hosts(nets)).then(|| host_set(nets));
    let mut probes: Vec<Probe<'_, u32>> = Vec::new();
    if let Some(t) = &table {
        let t: &Table = t;
        let hit = move |qs: &[u32]| run(qs, |q| !t.lookup_v4(Ipv4Addr::from(q)).is_empty() as u64);
        probes.push(("hit-count c2trie", Box::new(hit)));
        probes.push((
            "c2trie",
            Box::new(move |qs: &[u32]| {
                run(qs, |q| {
                    t.lookup_v4(Ipv4Addr::from(q)).contains(List::Global) as u64
                })
            }),
        ));
        let batch = move |qs: &[u32]| {
            let mut addrs = [Ipv4Addr::UNSPECIFIED; 1024];
            let mut n = 0u64;
            for chunk in qs.chunks(addrs.len()) {
                for (a, q) in addrs.iter_mut().zip(chunk) {
                    *a = Ipv4Addr::from(*q);
                }
                t.lookup_v4_each(&addrs[..chunk.len()], |h| {
                    n += h.contains(List::Global) as u64;
                });
            }
            n
        };
        probes.push(("hit-count c2trie-batch", Box::new(batch)));
        probes.push(("c2trie-batch", Box::new(batch)));
        probes.push((
            "c2trie-prefix",
            Box::new(move |qs: &[u32]| {
                run(qs, |q| {
                    t.lookup_v4(Ipv4Addr::from(q))
                        .get(List::Global)
                        .map_or(0, |e| u64::from(e.prefix().prefix_len()) + 1)
                })
            }),
        ));
    }
    if let Some(m) = &ptrie {
        let f = move |qs: &[u32]| {
            run(qs, |q| {
                let p = Ipv4Net::new(Ipv4Addr::from(q), 32).unwrap_or_default();
                m.get_lpm(&p).is_some() as u64
            })
        };
        probes.push(("hit-count prefix-trie", Box::new(f)));
        probes.push(("prefix-trie", Box::new(f)));
    }
    if let Some(m) = &pop {
        let f = move |qs: &[u32]| run(qs, |q| m.lookup(q).is_some() as u64);
        probes.push(("hit-count poptrie", Box::new(f)));
        probes.push(("poptrie", Box::new(f)));
    }
    if let Some(m) = &ipt {
        let f = move |qs: &[u32]| run(qs, |q| (*m.lookup(&Ipv4Addr::from(q)).1 != u32::MAX) as u64);
        probes.push(("hit-count iptrie", Box::new(f)));
        probes.push(("iptrie-lc", Box::new(f)));
    }
    if let Some(m) = &int {
        let f = move |qs: &[u32]| {
            run(qs, |q| {
                m.longest_match_ipv4(Ipv4Addr::from(q)).is_some() as u64
            })
        };
        probes.push(("hit-count ip_network_table", Box::new(f)));
        probes.push(("ip_network_table", Box::new(f)));
    }
    if let Some(m) = &hosts {
        let f = move |qs: &[u32]| run(qs, |q| m.contains(&q) as u64);
        probes.push(("hashset-hosts-only", Box::new(f)));
    }
    bench(c, set, nets, &probes);
}

fn v6(c: &mut Criterion, set: &str, nets: &[(u128, u8)]) {
    if !wanted("BENCH_SETS", set) {
        return;
    }
    let all = |n| wanted("BENCH_ONLY", n);
    let table = all("c2trie").then(|| c2trie_table(nets));
    let ptrie = all("prefix-trie").then(|| prefix_trie6(nets));
    let pop = all("poptrie").then(|| poptrie(nets));
    let ipt = all("iptrie").then(|| iptrie6(nets));
    let int = all("ip_network_table").then(|| ip_network_table(nets));
    let hosts = (all("hashset") && has_hosts(nets)).then(|| host_set(nets));
    let mut probes: Vec<Probe<'_, u128>> = Vec::new();
    if let Some(t) = &table {
        let t: &Table = t;
        let hit = move |qs: &[u128]| run(qs, |q| !t.lookup_v6(Ipv6Addr::from(q)).is_empty() as u64);
        probes.push(("hit-count c2trie", Box::new(hit)));
        probes.push((
            "c2trie",
            Box::new(move |qs: &[u128]| {
                run(qs, |q| {
                    t.lookup_v6(Ipv6Addr::from(q)).contains(List::Global) as u64
                })
            }),
        ));
        let batch = move |qs: &[u128]| {
            let mut addrs = [Ipv6Addr::UNSPECIFIED; 1024];
            let mut n = 0u64;
            for chunk in qs.chunks(addrs.len()) {
                for (a, q) in addrs.iter_mut().zip(chunk) {
                    *a = Ipv6Addr::from(*q);
                }
                t.lookup_v6_each(&addrs[..chunk.len()], |h| {
                    n += h.contains(List::Global) as u64;
                });
            }
            n
        };
        probes.push(("hit-count c2trie-batch", Box::new(batch)));
        probes.push(("c2trie-batch", Box::new(batch)));
        probes.push((
            "c2trie-prefix",
            Box::new(move |qs: &[u128]| {
                run(qs, |q| {
                    t.lookup_v6(Ipv6Addr::from(q))
                        .get(List::Global)
                        .map_or(0, |e| u64::from(e.prefix().prefix_len()) + 1)
                })
            }),
        ));
    }
    if let Some(m) = &ptrie {
        let f = move |qs: &[u128]| {
            run(qs, |q| {
                let p = Ipv6Net::new(Ipv6Addr::from(q), 128).unwrap_or_default();
                m.get_lpm(&p).is_some() as u64
            })
        };
        probes.push(("hit-count prefix-trie", Box::new(f)));
        probes.push(("prefix-trie", Box::new(f)));
    }
    if let Some(m) = &pop {
        let f = move |qs: &[u128]| run(qs, |q| m.lookup(q).is_some() as u64);
        probes.push(("hit-count poptrie", Box::new(f)));
        probes.push(("poptrie", Box::new(f)));
    }
    if let Some(m) = &ipt {
        let f =
            move |qs: &[u128]| run(qs, |q| (*m.lookup(&Ipv6Addr::from(q)).1 != u32::MAX) as u64);
        probes.push(("hit-count iptrie", Box::new(f)));
        probes.push(("iptrie-lc", Box::new(f)));
    }
    if let Some(m) = &int {
        let f = move |qs: &[u128]| {
            run(qs, |q| {
                m.longest_match_ipv6(Ipv6Addr::from(q)).is_some() as u64
            })
        };
        probes.push(("hit-count ip_network_table", Box::new(f)));
        probes.push(("ip_network_table", Box::new(f)));
    }
    if let Some(m) = &hosts {
        let f = move |qs: &[u128]| run(qs, |q| m.contains(&q) as u64);
        probes.push(("hashset-hosts-only", Box::new(f)));
    }
    bench(c, set, nets, &probes);
}

fn synthetic(c: &mut Criterion) {
    for n in V4_SIZES {
        let set = format!("v4-{}k", n / 1000);
        if wanted("BENCH_SETS", &set) {
            v4(c, &set, &host_heavy::<u32>(n, SEED));
        }
    }
    for n in V6_SIZES {
        let set = format!("v6-{}k", n / 1000);
        if wanted("BENCH_SETS", &set) {
            v6(c, &set, &host_heavy::<u128>(n, SEED));
        }
    }
}

fn real(c: &mut Criterion) {
    if wanted("BENCH_SETS", "ipsum") {
        v4(c, "ipsum", &ipsum());
    }
    if wanted("BENCH_SETS", "dropv6") {
        v6(c, "dropv6", &drop_v6());
    }
    if wanted("BENCH_SETS", "bgp4") {
        v4(c, "bgp4", &bgp_v4());
    }
    if wanted("BENCH_SETS", "bgp6") {
        v6(c, "bgp6", &bgp_v6_table().1);
    }
    if wanted("BENCH_SETS", "country4") || wanted("BENCH_SETS", "country6") {
        let (c4, c6) = countries();
        v4(c, "country4", &c4);
        v6(c, "country6", &c6);
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = synthetic, real
}
criterion_main!(benches);
