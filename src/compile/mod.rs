//! The compiler: entries from the three lists in, table bytes out.
//!
//! The compiler never reads compiled tables; [`Table`](crate::Table) never writes them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use crate::entry::{Entry, List, Meta};
use crate::error::CompileError;
use crate::feed::Feed;
use crate::format::writer::{FamilyParts, Parts};
use crate::format::{ATTR_MASK, Family, MAX_FILE_LEN, NO_RISK, NONE, RawAttr, V4, V6};

mod collect;
pub(crate) mod hash;
mod limits;
mod scratch;
mod trie;

use hash::{KeySet, Keyed, Map};
pub use limits::{Breach, LimitKind, Limits, ListLimits, SPECIAL_PURPOSE};
use trie::Pfx;

/// Counts for one list, as the compiler saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ListReport {
    /// Distinct prefixes kept.
    pub entries: u64,
    /// Prefixes dropped because the same prefix was already in this list.
    pub duplicates: u64,
    /// Of `entries`, how many are IPv4.
    pub ipv4: u64,
    /// Of `entries`, how many are IPv6.
    pub ipv6: u64,
    /// Entries dropped because their `expires` time was at or before the table's creation
    /// time.
    pub expired: u64,
    /// Of `entries`, IPv4 prefixes added beside IPv6 entries that spell them
    /// (`::192.0.2.1`, `64:ff9b::192.0.2.1`, `2002:c000:201::/48`): see [`Compiler::add`].
    pub derived_v4: u64,
}

/// What the compiler kept, per list (indexed by [`List::index`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct CompileReport {
    /// The approved list.
    pub approved: ListReport,
    /// The blocked list.
    pub blocked: ListReport,
    /// The global list.
    pub global: ListReport,
}

impl CompileReport {
    /// The report for one list.
    pub fn list(&self, list: List) -> &ListReport {
        match list {
            List::Approved => &self.approved,
            List::Blocked => &self.blocked,
            List::Global => &self.global,
        }
    }

    fn list_mut(&mut self, list: List) -> &mut ListReport {
        match list {
            List::Approved => &mut self.approved,
            List::Blocked => &mut self.blocked,
            List::Global => &mut self.global,
        }
    }
}

#[derive(Debug, Clone)]
struct Record {
    list: List,
    net: IpNet,
    source: u32,
    line: u64,
    /// Index into `Compiler::metas`.
    meta: u32,
}

/// The (list, prefix) pairs already added, for the duplicate check. IPv4 pairs pack into
/// one `u64` (`addr | len << 32 | list << 40`), which keeps the set small and fast.
#[derive(Debug, Clone, Default)]
struct Seen {
    v4: KeySet,
    v6: HashSet<(u128, u16), Keyed>,
}

impl Seen {
    /// Records the pair; `false` if it was already there.
    fn insert(&mut self, list: List, net: IpNet) -> bool {
        let list = list.index() as u8;
        match net {
            IpNet::V4(n) => self.v4.insert(
                u64::from(u32::from(n.addr()))
                    | u64::from(n.prefix_len()) << 32
                    | u64::from(list) << 40,
            ),
            IpNet::V6(n) => self.v6.insert((
                u128::from(n.addr()),
                u16::from(n.prefix_len()) | u16::from(list) << 8,
            )),
        }
    }
}

/// Builds a table from the entries of the three lists.
///
/// Entries keep their source (the feed's name) and metadata. The same prefix added twice to
/// one list is kept once (the first one wins) and counted as a duplicate; the same prefix in
/// two lists is kept in both. Nested and overlapping prefixes are all kept: a lookup reports,
/// per list, the longest one that covers the address.
///
/// Before writing, the entries are checked against the [`Limits`] (by default: no global
/// IPv4 entry broader than /8, no global IPv6 entry broader than /16); a breach fails the
/// compile and names the offending entries. See [`Compiler::limits`].
///
/// Output is deterministic: the same entries added in the same order, with the same
/// `list_version` and creation time, give the same bytes. (The one exception is a list
/// crafted so that the fixed hash seed cannot place its hosts or jump paths: it gets a
/// random seed, and a correct table whose bytes differ from run to run. A publisher that
/// rebuilds such a list after a crash gets a different file for the same version, which
/// [`publish_versioned`](crate::publish::publish_versioned) refuses as a rollback: publish
/// it as the next version.)
///
/// # Example
///
/// ```
/// use c2trie::{Compiler, List, Meta, Table};
///
/// let mut c = Compiler::new();
/// c.list_version(7).created_unix(0);
/// c.add(List::Global, "198.51.100.0/24".parse()?, "c2.txt", Meta::tagged("botnet"))?;
/// c.add(List::Approved, "198.51.100.7/32".parse()?, "approved.txt", Meta::default())?;
/// let table = Table::from_bytes(c.to_vec()?)?;
/// let hits = table.lookup("198.51.100.7".parse()?);
/// assert_eq!(hits.get(List::Global).unwrap().prefix().to_string(), "198.51.100.0/24");
/// assert_eq!(hits.get(List::Approved).unwrap().prefix().to_string(), "198.51.100.7/32");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Compiler {
    list_version: u64,
    created_unix: Option<u64>,
    /// The time of the first add, when no creation time is set: expiry and the header use it.
    clock: Option<u64>,
    records: Vec<Record>,
    seen: Seen,
    sources: Vec<String>,
    source_ids: Map<String, u32>,
    /// Distinct metadata, in order of first use by a kept record.
    metas: Vec<Meta>,
    meta_ids: Map<Meta, u32>,
    report: CompileReport,
    limits: Limits,
}

impl Compiler {
    /// An empty compiler: list version 0, creation time "now" unless set.
    pub fn new() -> Compiler {
        Compiler::default()
    }

    /// Sets the list version written to the header (the feed's serial number; a live
    /// handle refuses to swap to a table whose version is not newer).
    pub fn list_version(&mut self, version: u64) -> &mut Compiler {
        self.list_version = version;
        self
    }

    /// Sets the creation time written to the header, in seconds since the Unix epoch.
    /// Without it, the current time is used (so set it for reproducible output).
    pub fn created_unix(&mut self, secs: u64) -> &mut Compiler {
        self.created_unix = Some(secs);
        self
    }

    /// Sets the poisoned-feed guards checked before writing (default: [`Limits::default`]).
    pub fn limits(&mut self, limits: Limits) -> &mut Compiler {
        self.limits = limits;
        self
    }

    /// The guards in force.
    pub fn current_limits(&self) -> &Limits {
        &self.limits
    }

    /// Adds one prefix to `list`. Host bits are cleared, and an IPv4-mapped IPv6 prefix
    /// (`::ffff:192.0.2.0/120`) is stored as the IPv4 prefix it names (`192.0.2.0/24`), so
    /// it matches IPv4 traffic to those hosts. An IPv6 prefix that spells IPv4 hosts in
    /// another encoding (IPv4-compatible `::192.0.2.1`, IPv4-translated
    /// `::ffff:0:192.0.2.1`, NAT64 `64:ff9b::192.0.2.0/120`, 6to4 `2002:c000:201::/48`)
    /// is kept, and the IPv4 prefix it spells is added beside it, with the same metadata,
    /// when it fixes at least 8 bits of the IPv4 address ([`ListReport::derived_v4`]
    /// counts them). Returns `Ok(false)` when the list already had this prefix (the first
    /// entry's source and metadata are kept).
    ///
    /// # Errors
    ///
    /// [`CompileError`] when `meta.risk` is above 100.
    pub fn add(
        &mut self,
        list: List,
        net: IpNet,
        source: &str,
        meta: Meta,
    ) -> Result<bool, CompileError> {
        self.insert(list, net, source, 0, Cow::Owned(meta))
    }

    /// Adds one parsed entry to `list`, keeping its line number so that errors (such as a
    /// limit breach) can name `source:line`. Otherwise as [`Compiler::add`].
    ///
    /// # Errors
    ///
    /// As [`Compiler::add`].
    pub fn add_entry(
        &mut self,
        list: List,
        entry: &Entry,
        source: &str,
    ) -> Result<bool, CompileError> {
        self.insert(
            list,
            entry.net,
            source,
            entry.line,
            Cow::Borrowed(&entry.meta),
        )
    }

    fn insert(
        &mut self,
        list: List,
        net: IpNet,
        source: &str,
        line: u64,
        meta: Cow<'_, Meta>,
    ) -> Result<bool, CompileError> {
        if let Some(risk) = meta.risk.filter(|r| *r > Meta::MAX_RISK) {
            return Err(CompileError::invalid(format!(
                "{source}: {net}: risk {risk} is above {}",
                Meta::MAX_RISK
            )));
        }
        let net = canonical(net);
        if let IpNet::V6(v6) = net
            && let Some(v4) = spelled_v4(&v6)
        {
            // The IPv6 entry stays (it matches that literal); the IPv4 prefix it spells is
            // added beside it, so the hosts it names match however they are reached.
            let expired_before = self.report.list(list).expired;
            let kept = self.insert_one(list, net, source, line, Cow::Borrowed(&*meta), true)?;
            if self.report.list(list).expired != expired_before {
                // Expired: counted once, and nothing derived from it.
                return Ok(kept);
            }
            // A derived prefix already in the list is not a duplicate line of the feed:
            // only what it adds is counted.
            let added = self.insert_one(list, IpNet::V4(v4), source, line, meta, false)?;
            if added {
                self.report.list_mut(list).derived_v4 += 1;
            }
            return Ok(kept || added);
        }
        self.insert_one(list, net, source, line, meta, true)
    }

    /// [`Compiler::insert`] for one canonical prefix; `counted`: whether dropping it counts
    /// as a duplicate or an expiry (not for a prefix derived from another entry).
    fn insert_one(
        &mut self,
        list: List,
        net: IpNet,
        source: &str,
        line: u64,
        meta: Cow<'_, Meta>,
        counted: bool,
    ) -> Result<bool, CompileError> {
        let now = match self.created_unix.or(self.clock) {
            Some(t) => t,
            None => *self.clock.insert(now_unix()),
        };
        let report = self.report.list_mut(list);
        if meta.expires.is_some_and(|e| e <= now) {
            report.expired += u64::from(counted);
            return Ok(false);
        }
        if !self.seen.insert(list, net) {
            report.duplicates += u64::from(counted);
            return Ok(false);
        }
        report.entries += 1;
        match net {
            IpNet::V4(_) => report.ipv4 += 1,
            IpNet::V6(_) => report.ipv6 += 1,
        }
        // Feeds add runs of entries with one source and often one metadata: check the last
        // record's before hashing.
        let last = self.records.last();
        let source = match last.filter(|r| {
            self.sources
                .get(r.source as usize)
                .is_some_and(|s| s == source)
        }) {
            Some(r) => r.source,
            None => match self.source_ids.get(source) {
                Some(&id) => id,
                None => {
                    let id = self.sources.len() as u32;
                    self.sources.push(source.to_owned());
                    self.source_ids.insert(source.to_owned(), id);
                    id
                }
            },
        };
        let meta = match last.filter(|r| self.metas.get(r.meta as usize) == Some(&*meta)) {
            Some(r) => r.meta,
            None => match self.meta_ids.get(&*meta) {
                Some(&id) => id,
                None => {
                    let id = self.metas.len() as u32;
                    let meta = meta.into_owned();
                    self.metas.push(meta.clone());
                    self.meta_ids.insert(meta, id);
                    id
                }
            },
        };
        self.records.push(Record {
            list,
            net,
            source,
            line,
            meta,
        });
        Ok(true)
    }

    /// Adds every entry of a parsed feed to `list`, with the feed's name as the source.
    /// Returns how many were new.
    ///
    /// # Errors
    ///
    /// As [`Compiler::add`].
    pub fn add_feed(&mut self, list: List, feed: &Feed) -> Result<u64, CompileError> {
        // The feed dropped its own repeats already; they count as this list's duplicates.
        let report = self.report.list_mut(list);
        report.duplicates = report.duplicates.saturating_add(feed.stats.duplicates);
        let mut added = 0;
        for e in &feed.entries {
            if self.add_entry(list, e, &feed.name)? {
                added += 1;
            }
        }
        Ok(added)
    }

    /// What was kept and dropped so far, per list.
    pub fn report(&self) -> &CompileReport {
        &self.report
    }

    /// The number of distinct (list, prefix) entries.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Checks the entries added so far against the [`Limits`]; [`Compiler::to_vec`] does
    /// this first.
    ///
    /// # Errors
    ///
    /// A [`CompileError`] of kind [`CompileErrorKind::Limit`](crate::error::CompileErrorKind::Limit)
    /// listing every [`Breach`].
    pub fn check_limits(&self) -> Result<(), CompileError> {
        let entries = self.records.iter().map(|r| limits::Checked {
            list: r.list,
            net: r.net,
            source: self
                .sources
                .get(r.source as usize)
                .map_or("", String::as_str),
            line: r.line,
        });
        let breaches = limits::check(&self.limits, entries);
        if breaches.is_empty() {
            Ok(())
        } else {
            Err(CompileError::limits(breaches))
        }
    }

    /// Compiles to bytes.
    ///
    /// # Errors
    ///
    /// [`CompileError`] when an entry breaks the [`Limits`] (see
    /// [`Compiler::check_limits`]), or when the table would exceed a format limit (4 GiB,
    /// 2^30 distinct attribute records).
    pub fn to_vec(&self) -> Result<Vec<u8>, CompileError> {
        Ok(self.parts()?.to_vec())
    }

    /// Compiles and writes the bytes to `wtr`.
    ///
    /// # Errors
    ///
    /// As [`Compiler::to_vec`], plus any I/O error from `wtr`.
    pub fn write_to(&self, mut wtr: impl io::Write) -> Result<(), CompileError> {
        wtr.write_all(&self.to_vec()?).map_err(CompileError::io)
    }

    fn parts(&self) -> Result<Parts, CompileError> {
        self.check_limits()?;
        // Strings: sources first, then tags, each once.
        let mut strings: Vec<&str> = self.sources.iter().map(String::as_str).collect();
        let mut string_ids: Map<&str, u32> = Map::default();
        for (i, s) in self.sources.iter().enumerate() {
            string_ids.entry(s.as_str()).or_insert(i as u32);
        }
        // Per distinct metadata, its tag's string id once assigned (tags get ids in order of
        // first use, after the sources).
        let mut meta_tags: Vec<Option<u32>> = vec![None; self.metas.len()];
        let mut attrs: Vec<RawAttr> = Vec::new();
        let mut attr_ids: Map<(List, u32, u32), u32> = Map::default();
        let mut last_attr: Option<((List, u32, u32), u32)> = None;
        let mut v4_pfx = Vec::new();
        let mut v6_pfx = Vec::new();
        let mut v4_hosts = Vec::new();
        let mut v6_hosts = Vec::new();
        for r in &self.records {
            let key = (r.list, r.source, r.meta);
            let attr = match last_attr.filter(|(k, _)| *k == key) {
                Some((_, a)) => a,
                None => match attr_ids.get(&key) {
                    Some(&a) => a,
                    None => {
                        let meta = self.metas.get(r.meta as usize);
                        let tag = match meta.and_then(|m| m.tag.as_deref()) {
                            None => NONE,
                            Some(t) => match meta_tags.get(r.meta as usize).copied().flatten() {
                                Some(id) => id,
                                None => {
                                    let id = *string_ids.entry(t).or_insert_with(|| {
                                        strings.push(t);
                                        (strings.len() - 1) as u32
                                    });
                                    if let Some(slot) = meta_tags.get_mut(r.meta as usize) {
                                        *slot = Some(id);
                                    }
                                    id
                                }
                            },
                        };
                        let a = attrs.len() as u32;
                        if a > ATTR_MASK {
                            return Err(CompileError::too_large(
                                "more than 2^30 distinct attributes",
                            ));
                        }
                        attrs.push(RawAttr {
                            list: r.list.index() as u8,
                            risk: meta.and_then(|m| m.risk).unwrap_or(NO_RISK),
                            reserved: [0; 2],
                            source: r.source.into(),
                            tag: tag.into(),
                            expires: meta.and_then(|m| m.expires).unwrap_or(0).into(),
                        });
                        attr_ids.insert(key, a);
                        a
                    }
                },
            };
            last_attr = Some((key, attr));
            let list = r.list.index() as u8;
            match r.net {
                IpNet::V4(n) if n.prefix_len() == 32 => {
                    v4_hosts.push((u32::from(n.addr()), list, attr));
                }
                IpNet::V6(n) if n.prefix_len() == 128 => {
                    v6_hosts.push((u128::from(n.addr()), list, attr));
                }
                IpNet::V4(n) => v4_pfx.push(Pfx {
                    addr: V4::to_u128(u32::from(n.addr())),
                    len: n.prefix_len(),
                    list,
                    entry: attr,
                }),
                IpNet::V6(n) => v6_pfx.push(Pfx {
                    addr: u128::from(n.addr()),
                    len: n.prefix_len(),
                    list,
                    entry: attr,
                }),
            }
        }
        let mut string_offsets = Vec::with_capacity(strings.len() + 1);
        let mut string_bytes = Vec::new();
        string_offsets.push(0);
        for s in &strings {
            string_bytes.extend_from_slice(s.as_bytes());
            string_offsets.push(string_bytes.len() as u32);
        }
        if string_bytes.len() as u64 > MAX_FILE_LEN {
            return Err(CompileError::too_large("strings exceed 4 GiB"));
        }

        let (mut v4, v4_pfx, v4_jumps) = family::<V4>(v4_pfx, v4_hosts.len(), |a| (a >> 96) as u32);
        let (mut v6, v6_pfx, v6_jumps) = family::<V6>(v6_pfx, v6_hosts.len(), |a| a);
        let v4_hosts = trie::host_tuples(&mut v4_hosts, &mut v4);
        let v6_hosts = trie::host_tuples(&mut v6_hosts, &mut v6);
        trie::build_summary(&v4_pfx, &v4_hosts, &mut v4);
        trie::build_summary(&v6_pfx, &v6_hosts, &mut v6);
        // One seed for the host and jump tables of both families: the first with which
        // cuckoo placement succeeds at most twice the target size. A good mixer makes the
        // first seed, 0, work on any realistic input, and a fixed seed makes the output
        // reproducible. The hash is public, so a feed can be crafted to crowd a few buckets
        // under seed 0 (three IPv6 hosts solved through the mixer's inverse; IPv4 hosts and
        // jump paths by search); the seeds after it are drawn at random, which no feed can
        // be crafted against: such a list still compiles, to a correct table whose bytes
        // differ from run to run, at the cost of seed 0's placements at every size (about
        // a dozen passes over the hosts).
        let tables = |seed| {
            Some((
                trie::place::<V4>(&v4_hosts, seed)?,
                trie::place::<V6>(&v6_hosts, seed)?,
                trie::place::<V4>(&v4_jumps, seed)?,
                trie::place::<V6>(&v6_jumps, seed)?,
            ))
        };
        let random = std::collections::hash_map::RandomState::new();
        let drawn = (FIXED_SEEDS..MAX_SEEDS).map(|i| random.hash_one(i) as u32);
        let seed;
        (seed, (v4.hosts, v6.hosts, v4.jumps, v6.jumps)) = (0..FIXED_SEEDS)
            .chain(drawn)
            .find_map(|seed| tables(seed).map(|t| (seed, t)))
            .ok_or_else(|| {
                CompileError::too_large("no hash seed places every host in the host table")
            })?;
        trie::build_filter(&v4_hosts, seed, &mut v4);
        trie::build_filter(&v6_hosts, seed, &mut v6);
        let parts = Parts {
            list_version: self.list_version,
            created_unix: self.created_unix.or(self.clock).unwrap_or_else(now_unix),
            hash_seed: seed,
            string_offsets,
            string_bytes,
            attrs,
            v4,
            v6,
        };
        if parts.file_len() > MAX_FILE_LEN {
            return Err(CompileError::too_large("the table would exceed 4 GiB"));
        }
        Ok(parts)
    }
}

/// Clears host bits, and stores an IPv4-mapped IPv6 prefix (`::ffff:a.b.c.d/96+n`) as the
/// IPv4 prefix it names (`a.b.c.d/n`): the same hosts, looked up the way IPv4 traffic is.
fn canonical(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(n) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(n.trunc());
    }
    net.trunc()
}

/// The IPv4 prefix an IPv6 entry spells through an encoding that names a host by its IPv4
/// address (IPv4-compatible `::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, NAT64
/// `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::/48`), when the entry lies inside that
/// encoding's prefix and fixes at least the top 8 bits of the IPv4 address (broader ones
/// name no host: `2002::/16` is "all of 6to4", not "all of IPv4"). Nothing in `0.0.0.0/8`
/// (`::` and `::1` are not IPv4-compatible addresses). Teredo is left out: its IPv4 field
/// names the relay server, not the peer. IPv4-mapped entries are stored as IPv4 by
/// [`canonical`].
fn spelled_v4(net: &ipnet::Ipv6Net) -> Option<ipnet::Ipv4Net> {
    let a = u128::from(net.network());
    let len = u32::from(net.prefix_len());
    let start = u32::from(limits::host_spelling_start(net)?);
    let v4_len = len.saturating_sub(start).min(32);
    if v4_len < 8 {
        return None;
    }
    let v4 = ipnet::Ipv4Net::new(
        std::net::Ipv4Addr::from((a >> (96 - start)) as u32),
        v4_len as u8,
    )
    .ok()?;
    (v4.network().octets()[0] != 0).then(|| v4.trunc())
}

/// Hash seeds tried before giving up on placing the hosts: [`FIXED_SEEDS`] fixed ones, then
/// random ones.
const MAX_SEEDS: u32 = 64;

/// The fixed hash seeds tried first (reproducible output): seed 0 alone. Each fixed seed
/// that a crafted list defeats costs up to a dozen placements of every host before the
/// next is tried, so more of them would only let such a list slow the build down more.
const FIXED_SEEDS: u32 = 1;

/// A family's parts, its sorted prefixes, and its jump entries (node path, node index).
type Built<F> = (FamilyParts<F>, Vec<Pfx>, Vec<(<F as Family>::Int, u32)>);

/// Sorts a family's prefixes, writes its entry records and builds its trie (`hosts`: the
/// family's host entries). On entry, `Pfx::entry` holds the attribute index; on exit, the
/// entry index.
fn family<F: Family>(mut pfx: Vec<Pfx>, hosts: usize, int: impl Fn(u128) -> F::Int) -> Built<F> {
    pfx.sort_unstable_by_key(|p| (p.addr, p.len, p.list));
    let mut parts = FamilyParts::<F> {
        entries: Vec::with_capacity(pfx.len()),
        tuples: Vec::new(),
        direct_bits: 0,
        direct: Vec::new(),
        nodes: Vec::new(),
        leaves: Vec::new(),
        hosts: Vec::new(),
        jump_bits: 0,
        jumps: Vec::new(),
        host_tuples: Vec::new(),
        filter: Vec::new(),
        summary_bits: 0,
        summary: Vec::new(),
    };
    for (i, p) in pfx.iter_mut().enumerate() {
        parts
            .entries
            .push(F::make_entry(int(p.addr), p.len, p.entry));
        p.entry = i as u32;
    }
    let paths = trie::build_trie(&pfx, hosts, &mut parts);
    let (jump_bits, jumps) = trie::jumps::<F>(&pfx, &paths, &parts, &int);
    parts.jump_bits = jump_bits;
    (parts, pfx, jumps)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv6Addr};

    use super::{MAX_SEEDS, trie};
    use zerocopy::FromBytes;

    use crate::format::{Family, RawHeader, V6, mix64, unmix64};
    use crate::{Compiler, List, Meta};

    /// An IPv6 host whose host hash under `seed` is `h`: its high half is chosen, its low
    /// half solved for through the inverse of the mixer (the hash is public).
    fn host_with_hash(seed: u32, h: u64) -> u128 {
        let s = u64::from(seed);
        let hi = 0x2001_0db8_0000_0000 | s;
        let lo = unmix64(h ^ mix64(hi ^ (s << 32) ^ 0x9e37_79b9_7f4a_7c15)) ^ s;
        let key = u128::from(hi) << 64 | u128::from(lo);
        assert_eq!(V6::hash(key, seed), h);
        key
    }

    /// Three hosts per seed, for each of seeds 0 to [`MAX_SEEDS`]` - 1` (the one fixed seed
    /// and the 63 after it, which the compiler once tried in turn), whose two buckets under
    /// that seed are both bucket 0, at every table size: a bucket holds two, so none of
    /// those seeds can place them. The build goes on to random seeds and the table answers
    /// every host.
    #[test]
    fn a_list_crafted_against_known_seeds_still_compiles() {
        let mut hosts = Vec::new();
        for seed in 0..MAX_SEEDS {
            hosts.extend((0..3).map(|h| host_with_hash(seed, h)));
        }
        let values: Vec<(u128, u32)> = hosts.iter().map(|k| (*k, 1)).collect();
        for seed in 0..MAX_SEEDS {
            assert!(trie::place::<V6>(&values, seed).is_none(), "seed {seed}");
        }
        let mut c = Compiler::new();
        for k in &hosts {
            let net = ipnet::Ipv6Net::new(Ipv6Addr::from(*k), 128).unwrap();
            c.add(List::Global, net.into(), "crafted", Meta::default())
                .unwrap();
        }
        let table = c.build().unwrap();
        let (header, _) = RawHeader::ref_from_prefix(table.as_bytes()).unwrap();
        let seed = header.hash_seed.get();
        assert!(seed >= MAX_SEEDS, "seed {seed} placed them");
        for k in &hosts {
            let hit = table.lookup(IpAddr::V6(Ipv6Addr::from(*k)));
            assert!(hit.contains(List::Global), "{k:x}");
        }
        let other = IpAddr::V6(Ipv6Addr::from(hosts[0] ^ 1));
        assert!(table.lookup(other).is_empty());
    }
}
