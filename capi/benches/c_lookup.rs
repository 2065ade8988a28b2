//! Lookups and decisions through the C ABI: one address a call (`c2trie_lookup_v4`/`_v6`,
//! `c2trie_decide_v4`/`_v6`) and a batch a call (`c2trie_lookup_v4_batch`/`_v6_batch`,
//! `c2trie_decide_v4_batch`/`_v6_batch`, 1024 addresses), beside the library's own single
//! lookup, on the lookup bench's synthetic lists (IPv4 1M, IPv6 100k) with its uniform and
//! mixed queries. Each C lookup fills a `c2trie_matches`: every list's match with its
//! prefix, source and tag, where the library's lookup only finds them; each decision (the
//! default policy) fills a `c2trie_decision`.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use c2trie::{List, Table};
use c2trie_capi::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../../benches/common/mod.rs"]
mod common;
use common::*;

/// The table through the C ABI; freed on drop.
struct CTable(*mut c2trie_table);

impl Drop for CTable {
    fn drop(&mut self) {
        // SAFETY: a handle from `c2trie_table_from_bytes`, freed once.
        unsafe { c2trie_table_free(self.0) };
    }
}

fn open(bytes: &[u8]) -> CTable {
    let mut t = std::ptr::null_mut();
    // SAFETY: `bytes` is valid for its length; `t` is a valid out-pointer.
    let rc = unsafe { c2trie_table_from_bytes(bytes.as_ptr(), bytes.len(), &mut t) };
    assert_eq!(rc, C2TRIE_OK);
    CTable(t)
}

/// One family's calls: the single one, the batch one, and the library's single lookup.
struct Calls<R> {
    width: usize,
    single: unsafe extern "C" fn(*const c2trie_table, *const u8, *mut c2trie_matches) -> i32,
    batch: unsafe extern "C" fn(*const c2trie_table, *const u8, usize, *mut c2trie_matches) -> i32,
    decide: unsafe extern "C" fn(*const c2trie_table, *const u8, *mut c2trie_decision) -> i32,
    decide_batch: unsafe extern "C" fn(
        *const c2trie_table,
        *const c2trie_policy,
        *const u8,
        usize,
        *mut c2trie_decision,
    ) -> i32,
    rust: R,
}

unsafe extern "C" fn decide_v4(
    t: *const c2trie_table,
    a: *const u8,
    out: *mut c2trie_decision,
) -> i32 {
    // SAFETY: the caller's guarantee: `a` holds 4 bytes.
    unsafe { c2trie_decide_v4(t, std::ptr::null(), a.cast(), out) }
}

unsafe extern "C" fn decide_v6(
    t: *const c2trie_table,
    a: *const u8,
    out: *mut c2trie_decision,
) -> i32 {
    // SAFETY: the caller's guarantee: `a` holds 16 bytes.
    unsafe { c2trie_decide_v6(t, std::ptr::null(), a.cast(), out) }
}

unsafe extern "C" fn single_v4(
    t: *const c2trie_table,
    a: *const u8,
    out: *mut c2trie_matches,
) -> i32 {
    // SAFETY: the caller's guarantee: `a` holds 4 bytes.
    unsafe { c2trie_lookup_v4(t, a.cast(), out) }
}

unsafe extern "C" fn single_v6(
    t: *const c2trie_table,
    a: *const u8,
    out: *mut c2trie_matches,
) -> i32 {
    // SAFETY: the caller's guarantee: `a` holds 16 bytes.
    unsafe { c2trie_lookup_v6(t, a.cast(), out) }
}

#[inline(always)]
fn rust_v4(t: &Table, a: &[u8]) -> bool {
    let b: [u8; 4] = a.try_into().unwrap_or_default();
    t.lookup_v4(Ipv4Addr::from(b)).contains(List::Global)
}

#[inline(always)]
fn rust_v6(t: &Table, a: &[u8]) -> bool {
    let b: [u8; 16] = a.try_into().unwrap_or_default();
    t.lookup_v6(Ipv6Addr::from(b)).contains(List::Global)
}

fn bench_set<R: Fn(&Table, &[u8]) -> bool>(
    c: &mut Criterion,
    set: &str,
    bytes: &[u8],
    queries: &[(&str, Vec<u8>)],
    calls: &Calls<R>,
) {
    let table = Table::from_slice(bytes).expect("loads");
    let ct = open(bytes);
    for (qname, packed) in queries {
        let n = packed.len() / calls.width;
        let mut g = c.benchmark_group(format!("c-abi/{set}/{qname}"));
        g.throughput(Throughput::Elements(n as u64));
        // Each measure counts the addresses on the global list (lookups) or not passed
        // (decisions); single and batch calls must agree, checked once before timing.
        let lookup_one = |out: &mut [c2trie_matches]| {
            let mut hits = 0usize;
            for a in packed.chunks_exact(calls.width) {
                // SAFETY: `a` holds one address; `out[0]` is initialized.
                let rc = unsafe { (calls.single)(ct.0, a.as_ptr(), out.as_mut_ptr()) };
                assert_eq!(rc, C2TRIE_OK);
                hits += usize::from(out[0].lists[C2TRIE_LIST_GLOBAL as usize].found);
            }
            hits
        };
        let lookup_batch = |out: &mut [c2trie_matches]| {
            let mut hits = 0usize;
            for chunk in packed.chunks(calls.width * out.len()) {
                let k = chunk.len() / calls.width;
                // SAFETY: `chunk` holds `k` addresses, `out` at least `k` initialized
                // results.
                let rc = unsafe { (calls.batch)(ct.0, chunk.as_ptr(), k, out.as_mut_ptr()) };
                assert_eq!(rc, C2TRIE_OK);
                hits += out
                    .iter()
                    .take(k)
                    .map(|m| usize::from(m.lists[C2TRIE_LIST_GLOBAL as usize].found))
                    .sum::<usize>();
            }
            hits
        };
        let decide_one = |out: &mut [c2trie_decision]| {
            let mut listed = 0usize;
            for a in packed.chunks_exact(calls.width) {
                // SAFETY: `a` holds one address; `out[0]` is initialized.
                let rc = unsafe { (calls.decide)(ct.0, a.as_ptr(), out.as_mut_ptr()) };
                assert_eq!(rc, C2TRIE_OK);
                listed += usize::from(out[0].verdict != C2TRIE_VERDICT_PASS);
            }
            listed
        };
        let decide_batch = |out: &mut [c2trie_decision]| {
            let mut listed = 0usize;
            for chunk in packed.chunks(calls.width * out.len()) {
                let k = chunk.len() / calls.width;
                // SAFETY: `chunk` holds `k` addresses, `out` at least `k` initialized
                // results; the policy is NULL (the default).
                let rc = unsafe {
                    (calls.decide_batch)(
                        ct.0,
                        std::ptr::null(),
                        chunk.as_ptr(),
                        k,
                        out.as_mut_ptr(),
                    )
                };
                assert_eq!(rc, C2TRIE_OK);
                listed += out
                    .iter()
                    .take(k)
                    .filter(|d| d.verdict != C2TRIE_VERDICT_PASS)
                    .count();
            }
            listed
        };
        let mut out = vec![c2trie_matches::default(); 1024];
        let mut decisions = vec![c2trie_decision::default(); 1024];
        assert_eq!(
            lookup_one(&mut out),
            lookup_batch(&mut out),
            "{set}/{qname}"
        );
        assert_eq!(
            decide_one(&mut decisions),
            decide_batch(&mut decisions),
            "{set}/{qname}"
        );
        g.bench_function("c2trie_lookup", |b| {
            b.iter(|| black_box(lookup_one(&mut out)))
        });
        g.bench_function("c2trie_lookup_batch", |b| {
            b.iter(|| black_box(lookup_batch(&mut out)))
        });
        g.bench_function("c2trie_decide", |b| {
            b.iter(|| black_box(decide_one(&mut decisions)))
        });
        g.bench_function("c2trie_decide_batch", |b| {
            b.iter(|| black_box(decide_batch(&mut decisions)))
        });
        g.bench_function("rust-lookup", |b| {
            b.iter(|| {
                packed
                    .chunks_exact(calls.width)
                    .filter(|a| (calls.rust)(&table, black_box(a)))
                    .count()
            })
        });
        g.finish();
    }
}

fn c_abi(c: &mut Criterion) {
    let v4 = host_heavy::<u32>(1_000_000, SEED);
    let bytes = compiler(&v4).to_vec().expect("compiles");
    let qs: Vec<(&str, Vec<u8>)> = vec![
        (
            "uniform",
            uniform::<u32>(SEED + 1)
                .iter()
                .flat_map(|q| q.to_be_bytes())
                .collect(),
        ),
        (
            "mixed",
            mixed(&v4, SEED + 2)
                .iter()
                .flat_map(|q| q.to_be_bytes())
                .collect(),
        ),
    ];
    let calls = Calls {
        width: 4,
        single: single_v4,
        batch: c2trie_lookup_v4_batch,
        decide: decide_v4,
        decide_batch: c2trie_decide_v4_batch,
        rust: rust_v4,
    };
    bench_set(c, "v4-1000k", &bytes, &qs, &calls);
    let v6 = host_heavy::<u128>(100_000, SEED);
    let bytes = compiler(&v6).to_vec().expect("compiles");
    let qs: Vec<(&str, Vec<u8>)> = vec![
        (
            "uniform",
            uniform::<u128>(SEED + 1)
                .iter()
                .flat_map(|q| q.to_be_bytes())
                .collect(),
        ),
        (
            "mixed",
            mixed(&v6, SEED + 2)
                .iter()
                .flat_map(|q| q.to_be_bytes())
                .collect(),
        ),
    ];
    let calls = Calls {
        width: 16,
        single: single_v6,
        batch: c2trie_lookup_v6_batch,
        decide: decide_v6,
        decide_batch: c2trie_decide_v6_batch,
        rust: rust_v6,
    };
    bench_set(c, "v6-100k", &bytes, &qs, &calls);
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
    targets = c_abi
}
criterion_main!(benches);
