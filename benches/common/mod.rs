//! Shared by the benches: seeded host-heavy lists, query sets, loaders for the real feeds,
//! and the peer structures built from the same prefixes.
//!
//! Every list is a `Vec<(addr, len)>` of distinct canonical prefixes, the address as a
//! native integer (`u32` or `u128`).
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use c2trie::{Compiler, List, Meta, Table};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Number of queries in every query set.
pub const QUERIES: usize = 1 << 20;

/// SplitMix64: small, seeded, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn next_u128(&mut self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }
    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// An address family's integer.
pub trait Addr:
    Copy + Ord + Eq + std::hash::Hash + Send + Sync + std::fmt::Debug + 'static
{
    const BITS: u8;
    fn from_u128(x: u128) -> Self;
    fn to_u128(self) -> u128;
    fn random(rng: &mut Rng) -> Self;
    fn ip(self) -> IpAddr;
}

impl Addr for u32 {
    const BITS: u8 = 32;
    fn from_u128(x: u128) -> u32 {
        x as u32
    }
    fn to_u128(self) -> u128 {
        u128::from(self)
    }
    fn random(rng: &mut Rng) -> u32 {
        rng.next_u64() as u32
    }
    fn ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
}

impl Addr for u128 {
    const BITS: u8 = 128;
    fn from_u128(x: u128) -> u128 {
        x
    }
    fn to_u128(self) -> u128 {
        self
    }
    /// Random addresses in the global unicast space 2000::/3, where the lists live.
    fn random(rng: &mut Rng) -> u128 {
        (rng.next_u128() >> 3) | (1u128 << 125)
    }
    fn ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
}

/// The bits below a `len`-bit prefix.
pub fn host_mask<A: Addr>(len: u8) -> u128 {
    let host_bits = u32::from(A::BITS - len);
    1u128.checked_shl(host_bits).map_or(u128::MAX, |x| x - 1)
}

fn canonical<A: Addr>(a: A, len: u8) -> A {
    A::from_u128(a.to_u128() & !host_mask::<A>(len))
}

/// A seeded host-heavy list of `n` distinct prefixes, shaped like real C&C and abuse lists.
///
/// IPv4: 90 % hosts, 8 % /24, 2 % shorter blocks (/8–/12 rare, most of them /21–/23, as in
/// DROP). Half of the hosts and /24s sit in a pool of "hosting" /16s (one per 200 entries,
/// at least 64), the way C&C servers cluster at a few providers; the rest are spread over
/// routable space (no private, loopback, link-local, multicast or documentation ranges).
///
/// IPv6: 60 % /128, 25 % /64, 10 % /48, 5 % /32, in 2000::/3. 70 % of the entries longer
/// than /32 sit under a pool of "hosting" /32s (one per 100 entries, at least 32).
pub fn host_heavy<A: Addr>(n: usize, seed: u64) -> Vec<(A, u8)> {
    let mut rng = Rng::new(seed);
    let mut set = BTreeSet::new();
    if A::BITS == 32 {
        let pool: Vec<u32> = (0..(n / 200).max(64))
            .map(|_| routable_v4(&mut rng) & 0xffff_0000)
            .collect();
        while set.len() < n {
            let r = rng.below(1000);
            let hosted = rng.below(2) == 0;
            let (addr, len) = if r < 980 {
                let len = if r < 900 { 32 } else { 24 };
                let addr = if hosted {
                    pool[rng.below(pool.len() as u64) as usize] | (rng.next_u64() as u32 & 0xffff)
                } else {
                    routable_v4(&mut rng)
                };
                (addr, len)
            } else {
                let w = rng.below(1000);
                let len = match w {
                    0..2 => 8 + rng.below(5),
                    2..52 => 13 + rng.below(4),
                    52..302 => 17 + rng.below(4),
                    _ => 21 + rng.below(3),
                } as u8;
                (routable_v4(&mut rng), len)
            };
            let a = canonical(A::from_u128(u128::from(addr)), len);
            if routable(a.to_u128() as u32) {
                set.insert((a, len));
            }
        }
    } else {
        let global = |rng: &mut Rng| (rng.next_u128() >> 3) | (1u128 << 125);
        let pool: Vec<u128> = (0..(n / 100).max(32))
            .map(|_| global(&mut rng) & !host_mask::<u128>(32))
            .collect();
        while set.len() < n {
            let len = match rng.below(100) {
                0..60 => 128,
                60..85 => 64,
                85..95 => 48,
                _ => 32,
            };
            let addr = if len > 32 && rng.below(10) < 7 {
                pool[rng.below(pool.len() as u64) as usize]
                    | (rng.next_u128() & host_mask::<u128>(32))
            } else {
                global(&mut rng)
            };
            set.insert((canonical(A::from_u128(addr), len), len));
        }
    }
    let mut v: Vec<_> = set.into_iter().collect();
    // Insertion order should not be sorted: shuffle so no structure benefits from it.
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

/// Whether an IPv4 address is ordinary routable unicast: not 0/8, 10/8, 100.64/10, 127/8,
/// 169.254/16, 172.16/12, 192.168/16, the documentation and benchmarking ranges, or
/// 224/3.
fn routable(a: u32) -> bool {
    let [o1, o2, o3, _] = a.to_be_bytes();
    !matches!(
        (o1, o2, o3),
        (0 | 10 | 127 | 224..=255, _, _)
            | (100, 64..=127, _)
            | (169, 254, _)
            | (172, 16..=31, _)
            | (192, 168, _)
            | (198, 18..=19, _)
            | (192, 0, 2)
            | (198, 51, 100)
            | (203, 0, 113)
    )
}

fn routable_v4(rng: &mut Rng) -> u32 {
    loop {
        let a = rng.next_u64() as u32;
        if routable(a) {
            return a;
        }
    }
}

/// `QUERIES` random addresses (IPv6: in 2000::/3).
pub fn uniform<A: Addr>(seed: u64) -> Vec<A> {
    let mut rng = Rng::new(seed ^ 0x5555);
    (0..QUERIES).map(|_| A::random(&mut rng)).collect()
}

/// `QUERIES` addresses, half of them inside a random entry of `nets`, half random.
pub fn mixed<A: Addr>(nets: &[(A, u8)], seed: u64) -> Vec<A> {
    let mut rng = Rng::new(seed ^ 0xaaaa);
    (0..QUERIES)
        .map(|_| {
            if rng.below(2) == 0 || nets.is_empty() {
                A::random(&mut rng)
            } else {
                let (a, len) = nets[rng.below(nets.len() as u64) as usize];
                let noise = rng.next_u128() & host_mask::<A>(len);
                A::from_u128(a.to_u128() | noise)
            }
        })
        .collect()
}

/// The shared data folder.
pub fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
}

fn lines(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        s
    } else {
        String::from_utf8_lossy(&raw).into_owned()
    }
}

/// A family's prefix list: (address, length).
pub type Nets<A> = Vec<(A, u8)>;

/// Parses the first field of each line as an address or a prefix; skips comments and
/// anything unparsable. Returns the IPv4 and the IPv6 prefixes, deduplicated.
pub fn load(paths: &[PathBuf]) -> (Nets<u32>, Nets<u128>) {
    let mut v4 = BTreeSet::new();
    let mut v6 = BTreeSet::new();
    for p in paths {
        for line in lines(p).lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let field = line.split_whitespace().next().unwrap_or("");
            let net = field
                .parse::<IpNet>()
                .ok()
                .or_else(|| field.parse::<IpAddr>().ok().map(IpNet::from));
            match net.map(|n| n.trunc()) {
                Some(IpNet::V4(n)) => {
                    v4.insert((u32::from(n.addr()), n.prefix_len()));
                }
                Some(IpNet::V6(n)) => {
                    v6.insert((u128::from(n.addr()), n.prefix_len()));
                }
                None => {}
            }
        }
    }
    let mut rng = Rng::new(7);
    let mut v4: Vec<_> = v4.into_iter().collect();
    let mut v6: Vec<_> = v6.into_iter().collect();
    for i in (1..v4.len()).rev() {
        v4.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for i in (1..v6.len()).rev() {
        v6.swap(i, rng.below(i as u64 + 1) as usize);
    }
    (v4, v6)
}

/// stamparm/ipsum: ~120k IPv4 hosts.
pub fn ipsum() -> Vec<(u32, u8)> {
    load(&[data_dir().join("stamparm-ipsum/ipsum.txt")]).0
}

/// Spamhaus DROPv6 (2024-02-27): about fifty IPv6 prefixes, /29 to /48, a small list of
/// the kind the prefix groups answer.
pub fn drop_v6() -> Vec<(u128, u8)> {
    load(&[data_dir().join("spamhaus-drop/secops-mirror-2024-02-27/drop_ipv6.txt")]).1
}

/// The 2014 pyasn BGP table (IPv4 only, ~512k prefixes).
pub fn bgp_v4() -> Vec<(u32, u8)> {
    load(&[data_dir().join("bgp-ribs-pyasn/ipasn_20140513.dat.gz")]).0
}

/// The 2015 pyasn BGP table: (~606k IPv4, ~28k IPv6).
pub fn bgp_v6_table() -> (Nets<u32>, Nets<u128>) {
    load(&[data_dir().join("bgp-ribs-pyasn/ipasn6_20151101.dat.gz")])
}

/// Every country's aggregated blocks (~175k IPv4, ~68k IPv6).
pub fn countries() -> (Nets<u32>, Nets<u128>) {
    let dir = data_dir().join("ipverse-country-ip-blocks/country");
    let mut paths = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    for d in dirs {
        for f in ["ipv4-aggregated.txt", "ipv6-aggregated.txt"] {
            if d.join(f).exists() {
                paths.push(d.join(f));
            }
        }
    }
    load(&paths)
}

/// The prefix as an `IpNet`.
pub fn net<A: Addr>(a: A, len: u8) -> IpNet {
    match a.ip() {
        IpAddr::V4(x) => IpNet::V4(Ipv4Net::new(x, len).expect("length within 32")),
        IpAddr::V6(x) => IpNet::V6(Ipv6Net::new(x, len).expect("length within 128")),
    }
}

/// A c2trie compiler holding every prefix of `nets` in the global list (default limits).
pub fn compiler<A: Addr>(nets: &[(A, u8)]) -> Compiler {
    let mut c = Compiler::new();
    c.created_unix(0);
    for &(a, len) in nets {
        c.add(List::Global, net(a, len), "bench", Meta::default())
            .expect("valid entry");
    }
    c
}

/// Compiles `nets` (all in the global list) to a table. The real BGP and country data hold
/// blocks broader than the global list's default guard (/8, /16) allows, so the guard is
/// lifted here.
pub fn c2trie_table<A: Addr>(nets: &[(A, u8)]) -> Table {
    let mut c = compiler(nets);
    c.limits(c2trie::compile::Limits::none());
    Table::from_bytes(c.to_vec().expect("compiles")).expect("loads")
}

/// Host-heavy dataset names and the sizes the benches use.
pub const V4_SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
pub const V6_SIZES: [usize; 1] = [100_000];

/// The seed of every synthetic list.
pub const SEED: u64 = 0xc2_7a1e;

// ---------------------------------------------------------------------------------------
// Peers, built from the same prefixes. Values are the entry index, so a hit carries data.

pub type PrefixTrie4 = prefix_trie::PrefixMap<Ipv4Net, u32>;
pub type PrefixTrie6 = prefix_trie::PrefixMap<Ipv6Net, u32>;

pub fn prefix_trie4(nets: &[(u32, u8)]) -> PrefixTrie4 {
    let mut m = PrefixTrie4::new();
    for (i, &(a, len)) in nets.iter().enumerate() {
        m.insert(Ipv4Net::new(Ipv4Addr::from(a), len).expect("len"), i as u32);
    }
    m
}

pub fn prefix_trie6(nets: &[(u128, u8)]) -> PrefixTrie6 {
    let mut m = PrefixTrie6::new();
    for (i, &(a, len)) in nets.iter().enumerate() {
        m.insert(Ipv6Net::new(Ipv6Addr::from(a), len).expect("len"), i as u32);
    }
    m
}

pub fn poptrie<A: Addr + poptrie::Address>(nets: &[(A, u8)]) -> poptrie::Poptrie<(A, u8), u32>
where
    (A, u8): poptrie::Prefix,
{
    nets.iter()
        .enumerate()
        .map(|(i, &(a, len))| ((a, len), i as u32))
        .collect()
}

pub fn iptrie4(nets: &[(u32, u8)]) -> iptrie::Ipv4LCTrieMap<u32> {
    let mut m = iptrie::Ipv4RTrieMap::with_root_and_capacity(u32::MAX, nets.len() + 1);
    for (i, &(a, len)) in nets.iter().enumerate() {
        let p = iptrie::Ipv4Prefix::new(Ipv4Addr::from(a), len).expect("len");
        m.insert(p, i as u32);
    }
    m.compress()
}

pub fn iptrie6(nets: &[(u128, u8)]) -> iptrie::Ipv6LCTrieMap<u32> {
    let mut m = iptrie::Ipv6RTrieMap::with_root_and_capacity(u32::MAX, nets.len() + 1);
    for (i, &(a, len)) in nets.iter().enumerate() {
        let p = iptrie::Ipv6Prefix::new(Ipv6Addr::from(a), len).expect("len");
        m.insert(p, i as u32);
    }
    m.compress()
}

pub fn ip_network_table<A: Addr>(nets: &[(A, u8)]) -> ip_network_table::IpNetworkTable<u32> {
    let mut t = ip_network_table::IpNetworkTable::new();
    for (i, &(a, len)) in nets.iter().enumerate() {
        let n = ip_network::IpNetwork::new(a.ip(), len).expect("canonical prefix");
        t.insert(n, i as u32);
    }
    t
}

/// The host entries only: what a plain hash set can answer.
pub fn host_set<A: Addr>(nets: &[(A, u8)]) -> rustc_hash::FxHashSet<A> {
    nets.iter()
        .filter(|(_, len)| *len == A::BITS)
        .map(|(a, _)| *a)
        .collect()
}

/// Whether the list has any host entry.
pub fn has_hosts<A: Addr>(nets: &[(A, u8)]) -> bool {
    nets.iter().any(|(_, len)| *len == A::BITS)
}
