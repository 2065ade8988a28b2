//! Hot swap: reader throughput in steady state against during continuous swaps, and the
//! latency of a swap.
//!
//! The table has 50 000 synthetic IPv4 prefixes (fixed seed). Swaps come about every
//! millisecond, far above any real list cadence:
//!
//! - `during_swaps`: two validated tables take turns (the swapping thread is nearly idle),
//!   measuring the swap mechanism itself;
//! - `during_swaps_validating`: each swap validates a fresh copy first, as a real reload
//!   does, on another thread;
//! - `busy_control`: the same validation work without swapping, to separate the cost of
//!   sharing the CPU from the cost of swapping.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use c2trie::swap::{FailMode, LiveTable};
use c2trie::{Compiler, List, Meta, Mode, Policy, Table};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};

const ENTRIES: u32 = 50_000;
const PROBES: usize = 1024;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn table_bytes() -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut c = Compiler::new();
    c.list_version(1).created_unix(0);
    for i in 0..ENTRIES {
        let r = rng.next();
        let len = 16 + (r % 17) as u8;
        let net = Ipv4Net::new(Ipv4Addr::from((r >> 32) as u32), len).unwrap();
        let list = List::ALL[(i % 3) as usize];
        c.add(list, IpNet::V4(net), "bench", Meta::default())
            .unwrap();
    }
    c.to_vec().unwrap()
}

fn probes() -> Vec<IpAddr> {
    let mut rng = Rng(42);
    (0..PROBES)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32)))
        .collect()
}

fn read_all(live: &LiveTable, policy: &Policy, addrs: &[IpAddr]) -> usize {
    addrs
        .iter()
        .filter(|a| live.verdict(policy, **a).is_block())
        .count()
}

fn readers(c: &mut Criterion) {
    let bytes = table_bytes();
    let addrs = probes();
    let policy = Policy::new(Mode::Block, Mode::Block);
    let live = Arc::new(LiveTable::new(
        Table::from_bytes(bytes.clone()).unwrap(),
        FailMode::Closed,
    ));

    let mut g = c.benchmark_group("swap/reader");
    g.throughput(Throughput::Elements(PROBES as u64));
    g.bench_function("steady", |b| {
        b.iter(|| read_all(&live, &policy, black_box(&addrs)))
    });

    // Swaps alone: two validated tables take turns, the retired one taken back once its
    // last reader leaves, so the swapping thread uses almost no CPU.
    {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let background = {
            let live = Arc::clone(&live);
            let stop = Arc::clone(&stop);
            let swaps = Arc::clone(&swaps);
            let mut next = Table::from_bytes(bytes.clone()).unwrap();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut old = live.load_full();
                    live.force_replace(next).unwrap();
                    swaps.fetch_add(1, Ordering::Relaxed);
                    next = loop {
                        match Arc::try_unwrap(old) {
                            Ok(snap) => break snap.into_table().unwrap(),
                            Err(still_read) => {
                                old = still_read;
                                thread::yield_now();
                            }
                        }
                    };
                    thread::sleep(Duration::from_millis(1));
                }
            })
        };
        g.bench_function("during_swaps", |b| {
            b.iter(|| read_all(&live, &policy, black_box(&addrs)))
        });
        stop.store(true, Ordering::Relaxed);
        background.join().unwrap();
        eprintln!(
            "swap/reader/during_swaps: {} swaps during the run",
            swaps.load(Ordering::Relaxed)
        );
    }

    // The same background work (validating a fresh table every millisecond) with and
    // without the swap: the control separates the cost of swapping from the cost of sharing
    // the CPU with the validating thread.
    for (name, swap) in [("during_swaps_validating", true), ("busy_control", false)] {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let background = {
            let live = Arc::clone(&live);
            let stop = Arc::clone(&stop);
            let swaps = Arc::clone(&swaps);
            let bytes = bytes.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let t = Table::from_bytes(bytes.clone()).unwrap();
                    if swap {
                        live.force_replace(t).unwrap();
                        swaps.fetch_add(1, Ordering::Relaxed);
                    } else {
                        drop(black_box(t));
                    }
                    thread::sleep(Duration::from_millis(1));
                }
            })
        };
        g.bench_function(name, |b| {
            b.iter(|| read_all(&live, &policy, black_box(&addrs)))
        });
        stop.store(true, Ordering::Relaxed);
        background.join().unwrap();
        if swap {
            eprintln!(
                "swap/reader/during_swaps_validating: {} swaps during the run",
                swaps.load(Ordering::Relaxed)
            );
        }
    }
    g.finish();
}

fn swap_latency(c: &mut Criterion) {
    let bytes = table_bytes();
    let live = LiveTable::new(Table::from_bytes(bytes.clone()).unwrap(), FailMode::Closed);
    let mut g = c.benchmark_group("swap/latency");
    // The swap alone: the new table is validated in the (untimed) setup; the old one is
    // dropped inside the timed call, as it is when no reader holds it.
    g.bench_function("force_replace", |b| {
        b.iter_batched(
            || Table::from_bytes(bytes.clone()).unwrap(),
            |t| live.force_replace(t).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // What an operator waits for: read the file, validate, swap.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.c2t");
    c2trie::publish(&path, &bytes).unwrap();
    g.bench_function("reload_read", |b| {
        b.iter(|| {
            let t = Table::read_file(&path).unwrap();
            live.force_replace(t).unwrap()
        })
    });
    g.bench_function("publish", |b| {
        b.iter(|| c2trie::publish(&path, &bytes).unwrap())
    });
    g.finish();
}

criterion_group!(benches, readers, swap_latency);
criterion_main!(benches);
