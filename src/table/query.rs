//! Prefix queries: every entry covering an address or a prefix, every entry inside a
//! prefix.
//!
//! Not the hot path: [`Table::lookup`] answers "is this address listed"; these answer
//! "why", "what else" and "what is in there", for tools, audits and user interfaces. They
//! read the sorted entries sections by binary search and the host tables by probe (or, for
//! [`Table::within`] over a prefix wider than the host table, by one pass over it).

use std::cmp::Ordering;
use std::iter::Peekable;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{EntryRef, Table, probe, summary_bits, v4_net, v6_net};
use crate::format::validate::{Fam, Layout};
use crate::format::{Family, HOST_FLAG, NONE, V4, V6, buckets_of, filter_probe};

impl Table {
    /// Every entry covering `addr`, in every list: shortest prefix first, a host entry
    /// (`/32`, `/128`) last; entries with the same prefix in several lists come in list
    /// order (approved, blocked, global).
    ///
    /// Where [`Table::lookup`] gives each list's longest match, this also gives the broader
    /// entries of the same list that the longest one is nested in. The last entry of each
    /// list here is that list's [`Hits::get`](crate::Hits::get). As with `lookup`, an IPv6
    /// address is looked up as IPv6 only (see [`Policy`](crate::Policy) for embedded IPv4
    /// addresses).
    ///
    /// Never panics. Allocates nothing. Cost: one binary search over the family's prefix
    /// entries per possible prefix length (33 for IPv4, 129 for IPv6), so
    /// O(w · log n) for `n` prefix entries and address width `w`, plus one host probe.
    ///
    /// # Example
    ///
    /// ```
    /// use c2trie::{Compiler, List, Meta};
    ///
    /// let mut c = Compiler::new();
    /// c.add(List::Global, "198.51.100.0/24".parse()?, "vendor", Meta::default())?;
    /// c.add(List::Global, "198.51.100.0/28".parse()?, "vendor", Meta::default())?;
    /// c.add(List::Blocked, "198.51.100.7/32".parse()?, "user", Meta::default())?;
    /// c.add(List::Approved, "198.51.100.128/25".parse()?, "user", Meta::default())?;
    /// let table = c.build()?;
    ///
    /// let found: Vec<String> = table
    ///     .covering("198.51.100.7".parse()?)
    ///     .map(|e| format!("{} {}", e.list(), e.prefix()))
    ///     .collect();
    /// assert_eq!(
    ///     found,
    ///     ["global 198.51.100.0/24", "global 198.51.100.0/28", "blocked 198.51.100.7/32"]
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn covering(&self, addr: IpAddr) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        self.covering_net(IpNet::from(addr))
    }

    /// Every entry whose prefix contains the whole of `net` (`net` itself included), in
    /// every list, in the order of [`Table::covering`]. Host bits set in `net` are ignored
    /// (`192.0.2.9/24` is `192.0.2.0/24`). Only a host-length `net` is covered by a host
    /// entry. IPv4-mapped entries are stored as IPv4 ([`Compiler::add`](crate::Compiler::add)),
    /// so query them as IPv4: `::ffff:192.0.2.0/120` finds nothing.
    ///
    /// Never panics. Allocates nothing. Cost: O(l · log n) for a `net` of length `l` and
    /// `n` prefix entries in its family, plus one host probe.
    ///
    /// # Example
    ///
    /// ```
    /// use c2trie::{Compiler, List, Meta};
    ///
    /// let mut c = Compiler::new();
    /// c.add(List::Global, "2001:db8::/32".parse()?, "vendor", Meta::default())?;
    /// c.add(List::Blocked, "2001:db8:1::/48".parse()?, "user", Meta::default())?;
    /// c.add(List::Global, "2001:db8:1:2::/64".parse()?, "vendor", Meta::default())?;
    /// let table = c.build()?;
    ///
    /// let found: Vec<String> = table
    ///     .covering_net("2001:db8:1::/56".parse()?)
    ///     .map(|e| e.prefix().to_string())
    ///     .collect();
    /// assert_eq!(found, ["2001:db8::/32", "2001:db8:1::/48"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn covering_net(&self, net: IpNet) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        let l = self.layout();
        match net {
            IpNet::V4(n) => Either::A(covering::<V4>(
                l,
                &l.v4,
                u32::from(n.network()),
                n.prefix_len(),
            )),
            IpNet::V6(n) => Either::B(covering::<V6>(
                l,
                &l.v6,
                u128::from(n.network()),
                n.prefix_len(),
            )),
        }
    }

    /// Every entry whose prefix lies inside `net` (`net` itself included), in every list,
    /// in address order: by address, then prefix length (a host last), then list. Host
    /// bits set in `net` are ignored. `0.0.0.0/0` and `::/0` list a family's whole table;
    /// as for [`Table::covering_net`], IPv4-mapped entries are found under IPv4.
    ///
    /// Never panics. Prefix entries are found by binary search: O(log n + k) for `n`
    /// prefix entries and `k` results. Hosts are kept in a hash table, which has no
    /// address order: when `net` spans no more addresses than the host table has buckets,
    /// each of its addresses is probed (most stop at the summary, without touching the
    /// table); otherwise the whole host table is scanned once, O(h) for `h` hosts in the
    /// family, and the hosts inside `net` are collected and sorted (this allocates; nothing
    /// else does).
    ///
    /// # Example
    ///
    /// ```
    /// use c2trie::{Compiler, List, Meta};
    ///
    /// let mut c = Compiler::new();
    /// c.add(List::Global, "198.51.100.0/24".parse()?, "vendor", Meta::default())?;
    /// c.add(List::Blocked, "198.51.100.7/32".parse()?, "user", Meta::default())?;
    /// c.add(List::Global, "198.51.100.0/28".parse()?, "vendor", Meta::default())?;
    /// c.add(List::Global, "203.0.113.0/24".parse()?, "vendor", Meta::default())?;
    /// let table = c.build()?;
    ///
    /// let found: Vec<String> = table
    ///     .within("198.51.100.0/25".parse()?)
    ///     .map(|e| format!("{} {}", e.list(), e.prefix()))
    ///     .collect();
    /// assert_eq!(found, ["global 198.51.100.0/28", "blocked 198.51.100.7/32"]);
    /// assert_eq!(table.within("0.0.0.0/0".parse()?).count(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn within(&self, net: IpNet) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        let l = self.layout();
        match net {
            IpNet::V4(n) => Either::A(within::<V4>(
                l,
                &l.v4,
                u32::from(n.network()),
                u32::from(n.broadcast()),
                n.prefix_len(),
            )),
            IpNet::V6(n) => Either::B(within::<V6>(
                l,
                &l.v6,
                u128::from(n.network()),
                u128::from(n.broadcast()),
                n.prefix_len(),
            )),
        }
    }
}

/// What the queries need of a family beyond [`Family`].
trait Query: Family {
    /// The prefix `addr/len` (`len` clamped to the address width).
    fn net(addr: Self::Int, len: u8) -> IpNet;
    /// `addr + i`, wrapping.
    fn offset(addr: Self::Int, i: u64) -> Self::Int;
}

impl Query for V4 {
    fn net(addr: u32, len: u8) -> IpNet {
        IpNet::V4(v4_net(addr, len))
    }

    fn offset(addr: u32, i: u64) -> u32 {
        addr.wrapping_add(i as u32)
    }
}

impl Query for V6 {
    fn net(addr: u128, len: u8) -> IpNet {
        IpNet::V6(v6_net(addr, len))
    }

    fn offset(addr: u128, i: u64) -> u128 {
        addr.wrapping_add(u128::from(i))
    }
}

/// One of two iterators (the IPv4 or the IPv6 query).
enum Either<A, B> {
    A(A),
    B(B),
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for Either<A, B> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match self {
            Either::A(a) => a.next(),
            Either::B(b) => b.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Either::A(a) => a.size_hint(),
            Either::B(b) => b.size_hint(),
        }
    }
}

/// The prefix entry at `e` as an [`EntryRef`].
fn prefix_ref<'t, F: Query>(layout: &'t Layout<'t>, e: &F::RawEntry) -> EntryRef<'t> {
    EntryRef {
        layout,
        prefix: F::net(F::entry_addr(e), F::entry_len(e)),
        attr: F::entry_attr(e),
    }
}

/// The host entries (one per list, in list order) of the host at `key`, if it is one.
fn host_refs<'t, F: Query>(
    layout: &'t Layout<'t>,
    fam: &'t Fam<'t, F>,
    key: F::Int,
) -> impl Iterator<Item = EntryRef<'t>> + 't {
    // The summary's host bit and the filter first: most addresses stop there.
    let tuple = (summary_bits(fam, key) & 2 != 0)
        .then(|| F::hash(key, fam.seed))
        .filter(|h| {
            let (word, mask) = filter_probe(*h, fam.filter.len());
            fam.filter.get(word).is_some_and(|w| w.get() & mask == mask)
        })
        .and_then(|h| {
            let (b1, b2) = buckets_of(h, fam.hosts.len());
            probe::<F>(key, fam.hosts.get(b1), fam.hosts.get(b2))
        })
        .and_then(|t| fam.host_tuples.get(t as usize))
        .map_or([NONE; 3], |t| t.0.map(|e| e.get()));
    let prefix = F::net(key, F::BITS as u8);
    tuple
        .into_iter()
        .filter(|e| *e != NONE && *e & HOST_FLAG != 0)
        .map(move |e| EntryRef {
            layout,
            prefix,
            attr: e & !HOST_FLAG,
        })
}

/// The prefix entries `addr/len` (all lists), by binary search.
fn exactly<'t, F: Query>(fam: &'t Fam<'t, F>, addr: F::Int, len: u8) -> &'t [F::RawEntry] {
    let key = |e: &F::RawEntry| (F::entry_addr(e), F::entry_len(e));
    let lo = fam.entries.partition_point(|e| key(e) < (addr, len));
    let rest = fam.entries.get(lo..).unwrap_or(&[]);
    let n = rest.partition_point(|e| key(e) == (addr, len));
    rest.get(..n).unwrap_or(&[])
}

/// [`Table::covering_net`] in one family: `addr` is the network address of `addr/len`.
fn covering<'t, F: Query>(
    layout: &'t Layout<'t>,
    fam: &'t Fam<'t, F>,
    addr: F::Int,
    len: u8,
) -> impl Iterator<Item = EntryRef<'t>> + 't {
    let bits = F::BITS as u8;
    // Prefix entries are shorter than a host; a host entry covers only its own address.
    let prefixes = (0..=len.min(bits.saturating_sub(1)))
        .flat_map(move |l| exactly(fam, F::top(addr, u32::from(l)), l))
        .map(move |e| prefix_ref::<F>(layout, e));
    let hosts = (len >= bits).then(|| host_refs(layout, fam, addr));
    prefixes.chain(hosts.into_iter().flatten())
}

/// [`Table::within`] in one family: `lo..=hi` are the addresses of a prefix of length
/// `len`.
fn within<'t, F: Query>(
    layout: &'t Layout<'t>,
    fam: &'t Fam<'t, F>,
    lo: F::Int,
    hi: F::Int,
    len: u8,
) -> impl Iterator<Item = EntryRef<'t>> + 't {
    let first = fam.entries.partition_point(|e| F::entry_addr(e) < lo);
    let rest = fam.entries.get(first..).unwrap_or(&[]);
    let inside = rest.get(..rest.partition_point(|e| F::entry_addr(e) <= hi));
    // Entries in the range that are shorter than `net` contain it (they start at `lo`).
    let prefixes = inside
        .unwrap_or(&[])
        .iter()
        .filter(move |e| F::entry_len(e) >= len)
        .map(move |e| prefix_ref::<F>(layout, e));
    let hosts = hosts_within(layout, fam, lo, hi, len);
    merge(prefixes.peekable(), hosts.into_iter().peekable())
}

/// The host entries in `lo..=hi` (a prefix of length `len`), in address then list order.
fn hosts_within<'t, F: Query>(
    layout: &'t Layout<'t>,
    fam: &'t Fam<'t, F>,
    lo: F::Int,
    hi: F::Int,
    len: u8,
) -> Vec<EntryRef<'t>> {
    let span = F::BITS.saturating_sub(u32::from(len));
    // Small prefixes: probe each address (in order). Otherwise one pass over the buckets.
    if span < 63 && 1u64 << span <= fam.hosts.len() as u64 {
        return (0..1u64 << span)
            .flat_map(|i| host_refs(layout, fam, F::offset(lo, i)))
            .collect();
    }
    let mut found: Vec<(F::Int, u32)> = fam.hosts().filter(|(k, _)| lo <= *k && *k <= hi).collect();
    // Stable: one host's entries keep their list order.
    found.sort_by_key(|(k, _)| *k);
    found
        .into_iter()
        .map(|(k, attr)| EntryRef {
            layout,
            prefix: F::net(k, F::BITS as u8),
            attr,
        })
        .collect()
}

/// Merges prefix entries (sorted by address, length, list) with host entries (sorted by
/// address, list): at one address, the prefixes come first, being shorter.
fn merge<'t>(
    mut prefixes: Peekable<impl Iterator<Item = EntryRef<'t>>>,
    mut hosts: Peekable<impl Iterator<Item = EntryRef<'t>>>,
) -> impl Iterator<Item = EntryRef<'t>> {
    std::iter::from_fn(move || {
        let take_prefix = match (prefixes.peek(), hosts.peek()) {
            (Some(p), Some(h)) => addr_order(p.prefix, h.prefix) != Ordering::Greater,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_prefix {
            prefixes.next()
        } else {
            hosts.next()
        }
    })
}

/// Compares the network addresses of two prefixes of one family.
fn addr_order(a: IpNet, b: IpNet) -> Ordering {
    a.network().cmp(&b.network())
}
