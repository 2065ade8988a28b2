//! Batch against single lookups on a caller's own array of addresses: a million addresses
//! in a `Vec`, looked up one at a time (`lookup_v4` / `lookup_v6`) and in batches of 1024
//! (`lookup_v4_each` / `lookup_v6_each` on consecutive slices of the array), alternately,
//! best of `BATCH_ROUNDS` (9) rounds each. The lookup bench's lists and queries (IPv4 1M,
//! IPv6 100k; uniform and mixed). Unlike criterion's batch in `lookup`, which first copies
//! each 1024 queries into an array on the stack, the batch reads the caller's array as it
//! goes, as a caller with many addresses in memory would.
//!
//! `cargo bench --bench batch` prints one line per list and query set: single and batch
//! million lookups a second of the thread's CPU time, and batch ÷ single.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
#[cfg(not(unix))]
use std::time::Instant;

use c2trie::List;

mod common;
use common::*;

/// Seconds of this thread's CPU time (on Unix; elsewhere, of wall time): what another
/// process on the same core takes is not counted.
#[allow(unsafe_code)] // One call to the C library's clock.
fn now() -> f64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the
        // platform defines.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }
    #[cfg(not(unix))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64()
    }
}

/// The best time of `rounds` runs of each of `single` and `batch`, alternated; both must
/// count the same hits.
fn race(rounds: usize, single: impl Fn() -> u64, batch: impl Fn() -> u64) -> (f64, f64) {
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let t = now();
        let a = black_box(single());
        best.0 = best.0.min(now() - t);
        let t = now();
        let b = black_box(batch());
        best.1 = best.1.min(now() - t);
        assert_eq!(a, b, "single and batch lookups disagree");
    }
    best
}

fn report(name: &str, n: usize, (single, batch): (f64, f64)) {
    let mlps = |s: f64| n as f64 / s / 1e6;
    println!(
        "{name:24} single {:7.1}  batch {:7.1}  batch/single {:.2}",
        mlps(single),
        mlps(batch),
        single / batch
    );
}

/// Times one list: its uniform and mixed queries as addresses of type `Ip`, one at a time
/// (`single`: whether the global list matched) and a slice of 1024 at a time (`batch`: how
/// many of the slice's addresses the global list matched).
fn list<A: Addr, Ip: Copy>(
    name: &str,
    rounds: usize,
    nets: &[(A, u8)],
    to_ip: impl Fn(A) -> Ip,
    single: impl Fn(Ip) -> bool,
    batch: impl Fn(&[Ip]) -> u64,
) {
    for (qname, qs) in [
        ("uniform", uniform::<A>(SEED + 1)),
        ("mixed", mixed(nets, SEED + 2)),
    ] {
        let addrs: Vec<Ip> = qs.into_iter().map(&to_ip).collect();
        let one = || addrs.iter().map(|a| u64::from(single(*a))).sum();
        let many = || addrs.chunks(1024).map(&batch).sum();
        report(
            &format!("{name}/{qname}"),
            addrs.len(),
            race(rounds, one, many),
        );
    }
}

fn main() {
    let rounds = std::env::var("BATCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let v4 = host_heavy::<u32>(1_000_000, SEED);
    let t = c2trie_table(&v4);
    list(
        "v4-1000k",
        rounds,
        &v4,
        Ipv4Addr::from,
        |a| t.lookup_v4(a).contains(List::Global),
        |chunk| {
            let mut n = 0;
            t.lookup_v4_each(chunk, |h| n += u64::from(h.contains(List::Global)));
            n
        },
    );
    let v6 = host_heavy::<u128>(100_000, SEED);
    let t = c2trie_table(&v6);
    list(
        "v6-100k",
        rounds,
        &v6,
        Ipv6Addr::from,
        |a| t.lookup_v6(a).contains(List::Global),
        |chunk| {
            let mut n = 0;
            t.lookup_v6_each(chunk, |h| n += u64::from(h.contains(List::Global)));
            n
        },
    );
}
