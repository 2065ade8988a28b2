//! Load time: `Table::from_bytes` (full structural validation, with and without the
//! checksum) on a compiled table of 1M host-heavy IPv4 prefixes, in bytes per second.

use std::hint::black_box;
use std::time::Duration;

use c2trie::{LoadOptions, Table};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::*;

fn load(c: &mut Criterion) {
    let bytes = compiler(&host_heavy::<u32>(1_000_000, SEED))
        .to_vec()
        .expect("compiles");
    let mut g = c.benchmark_group("load/v4-1000k");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    // Ownership moves into the table, so each iteration gets a fresh copy (not timed).
    g.bench_function("from_bytes", |b| {
        b.iter_batched(
            || bytes.clone(),
            |v| Table::from_bytes(black_box(v)).expect("loads"),
            BatchSize::LargeInput,
        )
    });
    let mut no_sum = LoadOptions::default();
    no_sum.verify_checksum = false;
    g.bench_function("from_bytes-no-checksum", |b| {
        b.iter_batched(
            || bytes.clone(),
            |v| Table::from_bytes_with(black_box(v), no_sum).expect("loads"),
            BatchSize::LargeInput,
        )
    });
    g.finish();
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
    targets = load
}
criterion_main!(benches);
