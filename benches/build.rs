//! Build time: compiling 1M host-heavy IPv4 prefixes with c2trie, and building each peer
//! from the same prefixes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::*;

fn build(c: &mut Criterion) {
    let nets = host_heavy::<u32>(1_000_000, SEED);
    let mut g = c.benchmark_group("build/v4-1000k");
    g.throughput(Throughput::Elements(nets.len() as u64));
    // The whole path a user takes: add every entry, then serialize.
    g.bench_function("c2trie", |b| {
        b.iter(|| compiler(black_box(&nets)).to_vec().expect("compiles"))
    });
    // Only the compile step, entries already added.
    let comp = compiler(&nets);
    g.bench_function("c2trie-to_vec", |b| {
        b.iter(|| black_box(&comp).to_vec().expect("compiles"))
    });
    g.bench_function("prefix-trie", |b| b.iter(|| prefix_trie4(black_box(&nets))));
    g.bench_function("poptrie", |b| b.iter(|| poptrie(black_box(&nets))));
    g.bench_function("iptrie-lc", |b| b.iter(|| iptrie4(black_box(&nets))));
    g.bench_function("ip_network_table", |b| {
        b.iter(|| ip_network_table(black_box(&nets)))
    });
    g.bench_function("hashset-hosts-only", |b| {
        b.iter(|| host_set(black_box(&nets)))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = build
}
criterion_main!(benches);
