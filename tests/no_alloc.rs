//! Lookups never allocate: a counting global allocator sees zero allocations across many
//! single and batched lookups (the batch output vector is allocated before counting).
#![allow(unsafe_code)] // The counting allocator only; it forwards to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use c2trie::{Compiler, List, Meta, Table};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` unchanged and only bumps a thread-local counter
// (a `const` thread-local `Cell` never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// A table with hosts and prefixes of both families in all three lists.
fn table() -> Table {
    let mut c = Compiler::new();
    c.created_unix(0);
    let mut x = 0x9e37_79b9u32;
    for i in 0..3000u32 {
        x = x.wrapping_mul(0x0019_660d).wrapping_add(0x3c6e_f35f);
        let list = List::ALL[(i % 3) as usize];
        let len = [32u8, 32, 32, 24, 16][(i % 5) as usize];
        let v4 = ipnet::Ipv4Net::new(Ipv4Addr::from(x), len).unwrap();
        c.add(list, v4.into(), "a", Meta::tagged("t")).unwrap();
        let v6 = ipnet::Ipv6Net::new(Ipv6Addr::from(u128::from(x) << 96), len * 4).unwrap();
        c.add(list, v6.into(), "b", Meta::default()).unwrap();
    }
    Table::from_bytes(c.to_vec().unwrap()).unwrap()
}

fn queries() -> Vec<IpAddr> {
    let mut x = 1u32;
    (0..20_000)
        .map(|i| {
            x = x.wrapping_mul(0x0019_660d).wrapping_add(0x3c6e_f35f);
            if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(x))
            } else {
                IpAddr::V6(Ipv6Addr::from(u128::from(x) << 96))
            }
        })
        .collect()
}

/// The IPv4 and the IPv6 queries apart, in order.
fn by_family(qs: &[IpAddr]) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for q in qs {
        match q {
            IpAddr::V4(a) => v4.push(*a),
            IpAddr::V6(a) => v6.push(*a),
        }
    }
    (v4, v6)
}

#[test]
fn single_lookups_do_not_allocate() {
    let t = table();
    let qs = queries();
    let before = allocs();
    let mut found = 0usize;
    for q in &qs {
        let h = t.lookup(*q);
        found += List::ALL.iter().filter(|l| h.contains(**l)).count();
        if let Some(e) = h.get(List::Global) {
            found += usize::from(e.prefix().prefix_len() > 0) + e.source().len();
            found += usize::from(e.tag().is_some());
        }
    }
    let after = allocs();
    assert!(found > 0, "the queries should hit something");
    assert_eq!(
        after - before,
        0,
        "{} allocations in {} lookups",
        after - before,
        qs.len()
    );
}

#[test]
fn batch_lookups_do_not_allocate_once_the_output_has_capacity() {
    let t = table();
    let qs = queries();
    let (v4, v6) = by_family(&qs);
    let mut out = Vec::with_capacity(qs.len());
    let before = allocs();
    let mut found = 0usize;
    t.lookup_batch(&qs, &mut out);
    found += out.iter().filter(|h| !h.is_empty()).count();
    t.lookup_v4_batch(&v4, &mut out);
    found += out.iter().filter(|h| !h.is_empty()).count();
    t.lookup_v6_batch(&v6, &mut out);
    found += out.iter().filter(|h| !h.is_empty()).count();
    let after = allocs();
    assert!(found > 0, "the queries should hit something");
    assert_eq!(after - before, 0);
}

/// Batch decisions allocate nothing either: a policy with every encoding and an operator
/// NAT64 prefix, a table's and a live handle's (with a table and without), and IPv6
/// spellings of the IPv4 queries among the IPv6 ones.
#[test]
fn batch_decisions_do_not_allocate() {
    use c2trie::policy::{Policy, Verdict};
    use c2trie::swap::{FailMode, LiveTable};
    let t = table();
    let qs = queries();
    let (v4, mut v6) = by_family(&qs);
    v6.extend(
        v4.iter()
            .map(|a| Ipv6Addr::from((0x2002u128 << 112) | (u128::from(u32::from(*a)) << 80))),
    );
    let mut p = Policy::default();
    p.embedded
        .add_nat64_prefix("2001:db8:64::/96".parse().unwrap())
        .unwrap();
    let with = LiveTable::new(table(), FailMode::Open);
    let without = LiveTable::empty(FailMode::Closed);
    let (g1, g2) = (with.load(), without.load());
    let before = allocs();
    let mut listed = 0usize;
    let mut count = |v: Verdict| listed += usize::from(v != Verdict::Pass);
    p.decide_v4_each(&t, &v4, |d| count(d.verdict()));
    p.decide_v6_each(&t, &v6, |d| count(d.verdict()));
    g1.decide_v4_each(&p, &v4, |d| count(d.verdict()));
    g1.decide_v6_each(&p, &v6, |d| count(d.verdict()));
    g2.decide_v4_each(&p, &v4, |d| count(d.verdict()));
    g2.decide_v6_each(&p, &v6, |d| count(d.verdict()));
    let after = allocs();
    assert!(listed > 0, "the queries should hit something");
    assert_eq!(after - before, 0);
}

/// A small IPv6 list of /29 to /48 prefixes in all three lists, with hosts inside: the table
/// gets prefix groups, and lookups through them allocate nothing either.
#[test]
fn lookups_through_prefix_groups_do_not_allocate() {
    let mut c = Compiler::new();
    c.created_unix(0);
    let mut queries = Vec::new();
    for i in 0..48u128 {
        let list = List::ALL[(i % 3) as usize];
        // Eight /16 blocks, six prefixes in each.
        let block = 0x2a00u128 + i % 8;
        let len = [29u8, 32, 40, 48][(i % 4) as usize];
        let addr = (block << 112) | ((i / 8) << 84);
        let net = ipnet::Ipv6Net::new(Ipv6Addr::from(addr), len)
            .unwrap()
            .trunc();
        c.add(list, net.into(), "drop", Meta::default()).unwrap();
        let host = ipnet::Ipv6Net::new(Ipv6Addr::from(addr | 7), 128).unwrap();
        c.add(List::Blocked, host.into(), "host", Meta::default())
            .unwrap();
        for q in [addr, addr | 7, addr | 0xffff, addr.wrapping_add(1 << 100)] {
            queries.push(Ipv6Addr::from(q));
        }
    }
    let t = Table::from_bytes(c.to_vec().unwrap()).unwrap();
    let mut out = Vec::with_capacity(queries.len());
    let before = allocs();
    let mut found = queries
        .iter()
        .filter(|q| !t.lookup_v6(**q).is_empty())
        .count();
    t.lookup_v6_each(&queries, |h| found += usize::from(!h.is_empty()));
    t.lookup_v6_batch(&queries, &mut out);
    found += out.iter().filter(|h| !h.is_empty()).count();
    let after = allocs();
    assert!(found > 0, "the queries should hit something");
    assert_eq!(after - before, 0);
}

/// An IPv6 list of /32, /48 and /64 prefixes in all three lists, with hosts inside: the
/// table gets per-length prefix tables, and lookups through them allocate nothing either.
#[test]
fn lookups_through_per_length_tables_do_not_allocate() {
    let mut c = Compiler::new();
    c.created_unix(0);
    let mut queries = Vec::new();
    for i in 0..96u128 {
        let list = List::ALL[(i % 3) as usize];
        let len = [32u8, 48, 64][(i % 3) as usize];
        let addr = (0x2001_0db8u128 << 96) | ((i % 5) << 80) | ((i / 3) << 64);
        let net = ipnet::Ipv6Net::new(Ipv6Addr::from(addr), len)
            .unwrap()
            .trunc();
        c.add(list, net.into(), "feed", Meta::default()).unwrap();
        let host = ipnet::Ipv6Net::new(Ipv6Addr::from(addr | 7), 128).unwrap();
        c.add(List::Blocked, host.into(), "host", Meta::default())
            .unwrap();
        for q in [addr, addr | 7, addr | 0xffff, addr.wrapping_add(1 << 90)] {
            queries.push(Ipv6Addr::from(q));
        }
    }
    let t = Table::from_bytes(c.to_vec().unwrap()).unwrap();
    let mut out = Vec::with_capacity(queries.len());
    let before = allocs();
    let mut found = queries
        .iter()
        .filter(|q| !t.lookup_v6(**q).is_empty())
        .count();
    t.lookup_v6_each(&queries, |h| found += usize::from(!h.is_empty()));
    t.lookup_v6_batch(&queries, &mut out);
    found += out.iter().filter(|h| !h.is_empty()).count();
    let after = allocs();
    assert!(found > 0, "the queries should hit something");
    assert_eq!(after - before, 0);
}
