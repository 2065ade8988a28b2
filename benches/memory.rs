//! Memory per prefix: the bytes each structure keeps allocated after it is built, counted
//! by a global allocator, divided by the number of prefixes. For c2trie the table's own
//! length is reported too (it allocates nothing beyond its bytes once loaded).
//!
//! Not a criterion bench: `cargo bench --bench memory` prints one table.
#![allow(unsafe_code)] // The counting allocator only; it forwards to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;
use common::*;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` unchanged and only updates a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Live bytes held by what `f` returns.
fn held<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    let x = f();
    let after = LIVE.load(Ordering::Relaxed);
    (x, after.saturating_sub(before))
}

fn row(name: &str, n: usize, bytes: usize) {
    println!(
        "| {name:<28} | {n:>9} | {:>12} | {:>8.1} |",
        bytes,
        bytes as f64 / n as f64
    );
}

fn report<A>(set: &str, nets: &[(A, u8)])
where
    A: Addr + poptrie::Address,
    (A, u8): poptrie::Prefix,
{
    let n = nets.len();
    println!("\n### {set} ({n} prefixes)\n");
    println!("| structure | prefixes | bytes | B/prefix |");
    println!("|---|---:|---:|---:|");
    let (t, b) = held(|| c2trie_table(nets));
    row("c2trie (table bytes)", n, t.as_bytes().len());
    row("c2trie (heap, loaded)", n, b);
    drop(t);
    let (x, b) = held(|| poptrie(nets));
    row("poptrie", n, b);
    drop(x);
    let (x, b) = held(|| ip_network_table(nets));
    row("ip_network_table", n, b);
    drop(x);
    let (x, b) = held(|| host_set(nets));
    row("FxHashSet (hosts only)", n, b);
    drop(x);
    match <A as Addr>::BITS {
        32 => {
            let v: Vec<(u32, u8)> = nets.iter().map(|(a, l)| (a.to_u128() as u32, *l)).collect();
            let (x, b) = held(|| prefix_trie4(&v));
            row("prefix-trie", n, b);
            drop(x);
            let (x, b) = held(|| iptrie4(&v));
            row("iptrie LCTrieMap", n, b);
            drop(x);
        }
        _ => {
            let v: Vec<(u128, u8)> = nets.iter().map(|(a, l)| (a.to_u128(), *l)).collect();
            let (x, b) = held(|| prefix_trie6(&v));
            row("prefix-trie", n, b);
            drop(x);
            let (x, b) = held(|| iptrie6(&v));
            row("iptrie LCTrieMap", n, b);
            drop(x);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters by set name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |s: &str| filter.is_empty() || filter.iter().any(|f| s.contains(f.as_str()));
    for n in V4_SIZES {
        let set = format!("v4-{}k", n / 1000);
        if want(&set) {
            report(&set, &host_heavy::<u32>(n, SEED));
        }
    }
    for n in V6_SIZES {
        let set = format!("v6-{}k", n / 1000);
        if want(&set) {
            report(&set, &host_heavy::<u128>(n, SEED));
        }
    }
    if want("ipsum") {
        report("ipsum", &ipsum());
    }
    if want("bgp4") {
        report("bgp4", &bgp_v4());
    }
}
