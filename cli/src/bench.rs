//! `c2trie bench`: how fast a user's own table answers, single and batch, on uniform,
//! hit-heavy and mixed queries.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Instant;

use c2trie::{List, Table};
use clap::Args;
use ipnet::IpNet;
use serde_json::{Value, json};

use crate::Result;

pub(crate) const HELP: &str = "\
Examples:
  c2trie bench table.c2t
  c2trie bench table.c2t --queries 4000000 --rounds 7 --json
  c2trie bench table.c2t --by-length      # hits per prefix length: where a hit's time goes
  c2trie bench table.c2t --misses-first   # what the unpredictable hit-or-miss branch costs

Queries are generated from a fixed seed: 'uniform' draws random addresses (IPv6: in
2000::/3), so most miss; 'hit-heavy' draws addresses inside the table's own entries;
'mixed' takes each query from one or the other at random, half and half. Each
figure is the best of --rounds passes over all queries, in million lookups per second (Mlps).
The machine's load moves these figures: compare runs made under the same conditions.";

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// The table file.
    table: PathBuf,
    /// Queries per set.
    #[arg(long, default_value_t = 1_000_000)]
    queries: usize,
    /// Passes over each set; the best is reported.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Also measure hits per prefix length: for each length the table holds, queries
    /// drawn inside its entries of that length only (where the time of a hit goes).
    #[arg(long)]
    by_length: bool,
    /// Also measure the mixed queries reordered, every address on no list before every
    /// listed one ('mixed, misses first', single lookups): the same lookups with the
    /// hit-or-miss branch predictable. Its difference to 'mixed' is what that branch's
    /// mispredictions cost.
    #[arg(long)]
    misses_first: bool,
    /// Machine-readable output: one JSON object on standard output.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A fixed-seed xorshift generator: the same queries on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The names of the query sets, in the order `v4_sets` and `v6_sets` return them.
const SETS: [&str; 3] = ["uniform", "hit-heavy", "mixed"];

/// The name of the reordered mixed set of `--misses-first`.
const MISSES_FIRST: &str = "mixed, misses first";

/// `queries` reordered: those on no list (`miss`) first, each part in its original order.
fn misses_first<T: Copy>(queries: &[T], miss: impl Fn(&T) -> bool) -> Vec<T> {
    let (mut out, hits): (Vec<T>, Vec<T>) = queries.iter().partition(|q| miss(q));
    out.extend(hits);
    out
}

/// Each query from `uniform` or `hits` at random, half and half: hit or miss is a coin
/// flip, as in a stream where half the addresses are listed.
fn mix<T: Copy>(uniform: &[T], hits: &[T], rng: &mut Rng) -> Vec<T> {
    uniform
        .iter()
        .zip(hits)
        .map(|(u, h)| if rng.next() & 1 == 0 { *u } else { *h })
        .collect()
}

fn v4_sets(table: &Table, n: usize, rng: &mut Rng) -> Option<[Vec<Ipv4Addr>; 3]> {
    let nets: Vec<_> = table
        .entries()
        .filter_map(|e| match e.prefix() {
            IpNet::V4(v) => Some(v),
            IpNet::V6(_) => None,
        })
        .collect();
    if nets.is_empty() {
        return None;
    }
    let uniform: Vec<_> = (0..n)
        .map(|_| Ipv4Addr::from((rng.next() >> 32) as u32))
        .collect();
    let hits: Vec<_> = (0..n)
        .map(|_| {
            let net = nets[(rng.next() % nets.len() as u64) as usize];
            let span = !u32::from(net.netmask());
            Ipv4Addr::from(u32::from(net.network()) | ((rng.next() >> 32) as u32 & span))
        })
        .collect();
    let mixed = mix(&uniform, &hits, rng);
    Some([uniform, hits, mixed])
}

fn v6_sets(table: &Table, n: usize, rng: &mut Rng) -> Option<[Vec<Ipv6Addr>; 3]> {
    let nets: Vec<_> = table
        .entries()
        .filter_map(|e| match e.prefix() {
            IpNet::V6(v) => Some(v),
            IpNet::V4(_) => None,
        })
        .collect();
    if nets.is_empty() {
        return None;
    }
    let mut wide = || (u128::from(rng.next()) << 64) | u128::from(rng.next());
    let uniform: Vec<_> = (0..n)
        .map(|_| Ipv6Addr::from((0x2000u128 << 112) | (wide() >> 3)))
        .collect();
    let hits: Vec<_> = (0..n)
        .map(|_| {
            let net = nets[(wide() % nets.len() as u128) as usize];
            Ipv6Addr::from(u128::from(net.network()) | (wide() & !u128::from(net.netmask())))
        })
        .collect();
    let mixed = mix(&uniform, &hits, rng);
    Some([uniform, hits, mixed])
}

/// Per prefix length (ascending): `n` addresses inside the entries of that length, as
/// left-aligned integers (IPv4 in the top 32 bits of the low word).
fn by_length(table: &Table, v6: bool, n: usize, rng: &mut Rng) -> Vec<(u8, Vec<u128>)> {
    let mut lens: std::collections::BTreeMap<u8, Vec<(u128, u128)>> = Default::default();
    for e in table.entries() {
        let (net, mask) = match (e.prefix(), v6) {
            (IpNet::V4(n), false) => (
                u128::from(u32::from(n.network())),
                u128::from(u32::from(n.netmask())),
            ),
            (IpNet::V6(n), true) => (u128::from(n.network()), u128::from(n.netmask())),
            _ => continue,
        };
        lens.entry(e.prefix().prefix_len())
            .or_default()
            .push((net, mask));
    }
    let width = if v6 { u128::MAX } else { u128::from(u32::MAX) };
    lens.into_iter()
        .map(|(len, nets)| {
            let qs = (0..n)
                .map(|_| {
                    let (net, mask) = nets[(rng.next() % nets.len() as u64) as usize];
                    let r = (u128::from(rng.next()) << 64) | u128::from(rng.next());
                    net | (r & !mask & width)
                })
                .collect();
            (len, qs)
        })
        .collect()
}

/// Best-of-`rounds` throughput of `pass`, which returns how many queries the global list
/// matched (consumed so that no work can be skipped).
fn measure(rounds: u32, n: usize, mut pass: impl FnMut() -> usize) -> (f64, usize) {
    let mut best = f64::INFINITY;
    let mut hits = 0;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        hits = black_box(pass());
        best = best.min(t.elapsed().as_secs_f64());
    }
    (n as f64 / best.max(f64::MIN_POSITIVE) / 1e6, hits)
}

pub(crate) fn run(args: BenchArgs) -> Result<bool> {
    let table =
        Table::read_file(&args.table).map_err(|e| format!("{}: {e}", args.table.display()))?;
    let (n, r) = (args.queries.max(1), args.rounds);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut results: Vec<Value> = Vec::new();
    let mut record = |family: &str, set: &str, mode: &str, (mlps, hits): (f64, usize)| {
        results.push(json!({
            "family": family, "queries": set, "mode": mode,
            "mlps": (mlps * 10.0).round() / 10.0, "global_hits": hits,
        }));
    };
    if let Some(sets) = v4_sets(&table, n, &mut rng) {
        for (set, qs) in SETS.iter().zip(&sets) {
            let single = measure(r, n, || {
                qs.iter()
                    .filter(|a| table.lookup_v4(**a).contains(List::Global))
                    .count()
            });
            record("ipv4", set, "single", single);
            let batch = measure(r, n, || {
                let mut c = 0;
                table.lookup_v4_each(qs, |h| c += usize::from(h.contains(List::Global)));
                c
            });
            record("ipv4", set, "batch", batch);
        }
        if args.misses_first {
            let qs = misses_first(&sets[2], |a| table.lookup_v4(*a).is_empty());
            let single = measure(r, n, || {
                qs.iter()
                    .filter(|a| table.lookup_v4(**a).contains(List::Global))
                    .count()
            });
            record("ipv4", MISSES_FIRST, "single", single);
        }
    }
    if let Some(sets) = v6_sets(&table, n, &mut rng) {
        for (set, qs) in SETS.iter().zip(&sets) {
            let single = measure(r, n, || {
                qs.iter()
                    .filter(|a| table.lookup_v6(**a).contains(List::Global))
                    .count()
            });
            record("ipv6", set, "single", single);
            let batch = measure(r, n, || {
                let mut c = 0;
                table.lookup_v6_each(qs, |h| c += usize::from(h.contains(List::Global)));
                c
            });
            record("ipv6", set, "batch", batch);
        }
        if args.misses_first {
            let qs = misses_first(&sets[2], |a| table.lookup_v6(*a).is_empty());
            let single = measure(r, n, || {
                qs.iter()
                    .filter(|a| table.lookup_v6(**a).contains(List::Global))
                    .count()
            });
            record("ipv6", MISSES_FIRST, "single", single);
        }
    }
    if args.by_length {
        for v6 in [false, true] {
            let family = if v6 { "ipv6" } else { "ipv4" };
            for (len, qs) in by_length(&table, v6, n, &mut rng) {
                let single = if v6 {
                    let qs: Vec<Ipv6Addr> = qs.into_iter().map(Ipv6Addr::from).collect();
                    measure(r, n, || {
                        qs.iter()
                            .filter(|a| table.lookup_v6(**a).contains(List::Global))
                            .count()
                    })
                } else {
                    let qs: Vec<Ipv4Addr> =
                        qs.into_iter().map(|a| Ipv4Addr::from(a as u32)).collect();
                    measure(r, n, || {
                        qs.iter()
                            .filter(|a| table.lookup_v4(**a).contains(List::Global))
                            .count()
                    })
                };
                record(family, &format!("hits /{len}"), "single", single);
            }
        }
    }
    if args.json {
        let out = json!({
            "table": args.table.display().to_string(),
            "entries": table.len(),
            "bytes": table.as_bytes().len(),
            "queries": n,
            "rounds": r,
            "results": results,
        });
        println!("{out}");
    } else {
        println!(
            "{}: {} entries, {} bytes; {n} queries a set, best of {r}",
            args.table.display(),
            table.len(),
            table.as_bytes().len()
        );
        println!(
            "{:<6} {:<19} {:<7} {:>8} {:>12}",
            "family", "queries", "mode", "Mlps", "global hits"
        );
        for v in &results {
            println!(
                "{:<6} {:<19} {:<7} {:>8.1} {:>12}",
                v["family"].as_str().unwrap_or(""),
                v["queries"].as_str().unwrap_or(""),
                v["mode"].as_str().unwrap_or(""),
                v["mlps"].as_f64().unwrap_or(0.0),
                v["global_hits"],
            );
        }
    }
    Ok(true)
}
