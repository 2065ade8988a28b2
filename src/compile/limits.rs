//! Guards against poisoned feeds: per-list limits that a compile must respect.
//!
//! A feed is downloaded from the internet; one hostile or broken line such as `0.0.0.0/0`
//! in the global list would block everything. [`Limits`] bounds, per list, how broad an
//! entry may be ([`ListLimits::min_prefix_v4`], [`ListLimits::min_prefix_v6`]), how many
//! entries the list may hold ([`ListLimits::max_entries`]) and what share of each family's
//! address space it may cover ([`ListLimits::max_coverage_v4`],
//! [`ListLimits::max_coverage_v6`]). A breach fails the compile with a
//! [`CompileError`](crate::CompileError) of kind
//! [`CompileErrorKind::Limit`](crate::error::CompileErrorKind::Limit) whose
//! [`breaches`](crate::CompileError::breaches) name each offending entry's file and line.
//!
//! The defaults ([`Limits::default`]) guard only the vendor's global list: no IPv4 prefix
//! shorter than /8, no IPv6 prefix shorter than /16. The user's own approved and blocked
//! lists are not limited: what users write there is their decision.

use std::fmt;
use std::sync::LazyLock;

use ipnet::IpNet;

use crate::entry::List;

/// The limits for one list. `0` and `None` mean "no limit".
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ListLimits {
    /// The shortest IPv4 prefix length accepted (0 accepts everything, 8 refuses /7 and
    /// broader).
    pub min_prefix_v4: u8,
    /// The shortest IPv6 prefix length accepted.
    pub min_prefix_v6: u8,
    /// The most distinct entries the list may hold (both families together).
    pub max_entries: Option<u64>,
    /// The largest share of the IPv4 address space the list may cover, from 0.0 to 1.0
    /// (overlapping entries count once).
    pub max_coverage_v4: Option<f64>,
    /// The largest share of the IPv6 address space the list may cover, from 0.0 to 1.0.
    pub max_coverage_v6: Option<f64>,
    /// Refuse entries that meet special-purpose space ([`SPECIAL_PURPOSE`]: loopback,
    /// private, link-local, shared, multicast, reserved, ULA, ...), which a vendor's C&C
    /// list never legitimately holds. Off by default: real C&C feeds carry such junk
    /// (`127.0.0.1`, `192.168.5.145` in a Cobalt Strike list) and synthetic benchmark lists
    /// draw from the whole space, and either would then fail to compile; turn it on for a
    /// vendor list that must be clean. Enforcement never blocks loopback, link-local or
    /// multicast whatever a list says (`c2trie::wfp` exemptions).
    pub refuse_special: bool,
}

impl Default for ListLimits {
    /// [`ListLimits::NONE`]: no limit (what the user's lists get;
    /// [`ListLimits::default_for`] gives each list its own default).
    fn default() -> ListLimits {
        ListLimits::NONE
    }
}

impl ListLimits {
    /// No limit at all.
    pub const NONE: ListLimits = ListLimits {
        min_prefix_v4: 0,
        min_prefix_v6: 0,
        max_entries: None,
        max_coverage_v4: None,
        max_coverage_v6: None,
        refuse_special: false,
    };

    /// The default for the global list: IPv4 prefixes of /8 or longer, IPv6 prefixes of
    /// /16 or longer, and IPv6 prefixes that embed IPv4 space held to the IPv4 minimum; no
    /// count or coverage limit.
    pub const GLOBAL_DEFAULT: ListLimits = ListLimits {
        min_prefix_v4: 8,
        min_prefix_v6: 16,
        ..ListLimits::NONE
    };

    /// The default limits of `list`: [`ListLimits::GLOBAL_DEFAULT`] for the global list,
    /// [`ListLimits::NONE`] for the user's approved and blocked lists.
    pub const fn default_for(list: List) -> ListLimits {
        match list {
            List::Global => ListLimits::GLOBAL_DEFAULT,
            List::Approved | List::Blocked => ListLimits::NONE,
        }
    }
}

/// The limits of all three lists: how broad an entry may be, how many entries a list may
/// hold and what share of each address space it may cover. A compile that breaches one fails
/// with a [`CompileError`](crate::CompileError) naming each offending entry's file and line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    lists: [ListLimits; 3],
}

impl Default for Limits {
    /// [`ListLimits::default_for`] each list.
    fn default() -> Limits {
        Limits {
            lists: List::ALL.map(ListLimits::default_for),
        }
    }
}

impl Limits {
    /// No limit on any list.
    pub const fn none() -> Limits {
        Limits {
            lists: [ListLimits::NONE; 3],
        }
    }

    /// The limits of `list`.
    pub fn get(&self, list: List) -> &ListLimits {
        &self.lists[list.index()]
    }

    /// The limits of `list`, to change them.
    pub fn get_mut(&mut self, list: List) -> &mut ListLimits {
        &mut self.lists[list.index()]
    }

    /// Replaces the limits of `list`.
    #[must_use]
    pub fn with(mut self, list: List, limits: ListLimits) -> Limits {
        self.lists[list.index()] = limits;
        self
    }
}

/// Which limit an entry breached, with the limit's value.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum LimitKind {
    /// An IPv4 prefix shorter than [`ListLimits::min_prefix_v4`].
    MinPrefixV4(u8),
    /// An IPv6 prefix shorter than [`ListLimits::min_prefix_v6`].
    MinPrefixV6(u8),
    /// More entries than [`ListLimits::max_entries`]; the entry named is the first one over.
    MaxEntries(u64),
    /// The list covers more IPv4 space than [`ListLimits::max_coverage_v4`]; the entry
    /// named is the list's broadest IPv4 entry, and `covered` the share it reached.
    MaxCoverageV4 {
        /// The limit.
        max: f64,
        /// The share the list covers.
        covered: f64,
    },
    /// As [`LimitKind::MaxCoverageV4`], for IPv6.
    MaxCoverageV6 {
        /// The limit.
        max: f64,
        /// The share the list covers.
        covered: f64,
    },
    /// An IPv6 prefix that covers IPv4 space through an IPv4-in-IPv6 encoding (the policy
    /// decodes it) more broadly than [`ListLimits::min_prefix_v4`] allows: `::/16` covers
    /// every IPv4 address in its mapped and compatible forms.
    EmbeddedV4 {
        /// The IPv4 minimum.
        min: u8,
        /// The encoding, as [`Encoding::as_str`](crate::policy::Encoding::as_str) writes it.
        encoding: &'static str,
        /// The IPv4 prefix length the entry amounts to (0: all of IPv4).
        len: u8,
    },
    /// An entry that meets special-purpose space ([`ListLimits::refuse_special`]).
    SpecialPurpose {
        /// The special-purpose range.
        range: &'static str,
        /// What it is.
        name: &'static str,
    },
}

/// Special-purpose address space a vendor's C&C list never legitimately holds (from the
/// IANA special-purpose registries, RFC 6890): (range, name). The documentation ranges
/// are not in it: harmless in a list, they are what samples and tests use.
pub const SPECIAL_PURPOSE: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private-use"),
    ("100.64.0.0/10", "shared address space"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private-use"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.168.0.0/16", "private-use"),
    ("198.18.0.0/15", "benchmarking"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (and limited broadcast)"),
    ("::/127", "unspecified and loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
    ("100::/64", "discard-only"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
];

/// Where IPv4-in-IPv6 encodings put the IPv4 address: (encoding, prefix, bit where the
/// address starts). The IPv4 prefix length an IPv6 prefix of length `l` inside (or
/// around) one amounts to is `l − start`, clamped to 0..=32.
const EMBEDDINGS: [(&str, &str, u8); 6] = [
    ("mapped", "::ffff:0:0/96", 96),
    ("compatible", "::/96", 96),
    ("translated", "::ffff:0:0:0/96", 96),
    ("nat64", "64:ff9b::/96", 96),
    ("6to4", "2002::/16", 16),
    ("teredo-server", "2001::/32", 32),
];

/// [`EMBEDDINGS`], parsed once: they are consulted for every IPv6 entry.
static REGIONS: LazyLock<Vec<(&str, ipnet::Ipv6Net, u8)>> = LazyLock::new(|| {
    EMBEDDINGS
        .iter()
        .filter_map(|&(enc, region, start)| Some((enc, region.parse().ok()?, start)))
        .collect()
});

/// Where the IPv4 address starts in an IPv6 prefix that lies inside the region of an
/// encoding naming a host by its IPv4 address (compatible, translated, NAT64, 6to4; not
/// Teredo, whose field names the relay, nor mapped, stored as IPv4 anyway).
pub(super) fn host_spelling_start(net: &ipnet::Ipv6Net) -> Option<u8> {
    REGIONS
        .iter()
        .filter(|(enc, ..)| matches!(*enc, "compatible" | "translated" | "nat64" | "6to4"))
        .find(|(_, region, _)| region.contains(net))
        .map(|&(_, _, start)| start)
}

/// The broadest IPv4 prefix length an IPv6 prefix amounts to under any encoding it meets,
/// and that encoding.
fn embedded_v4(net: &ipnet::Ipv6Net) -> Option<(&'static str, u8)> {
    static LOCAL_USE: LazyLock<Option<ipnet::Ipv6Net>> =
        LazyLock::new(|| "64:ff9b:1::/48".parse().ok());
    let mut best: Option<(&'static str, u8)> = None;
    for &(enc, region, start) in REGIONS.iter() {
        if !(region.contains(net) || net.contains(&region)) {
            continue;
        }
        let len = net.prefix_len().saturating_sub(start).min(32);
        if best.is_none_or(|(_, l)| len < l) {
            best = Some((enc, len));
        }
    }
    // RFC 6052 local-use /48: 16 bits of the address, the u octet, 16 more.
    if let Some(local) = *LOCAL_USE
        && (local.contains(net) || net.contains(&local))
    {
        let l = net.prefix_len();
        let len = match l {
            0..=48 => 0,
            49..=64 => l - 48,
            65..=72 => 16,
            _ => (16 + (l - 72)).min(32),
        };
        if best.is_none_or(|(_, b)| len < b) {
            best = Some(("nat64-local", len));
        }
    }
    best
}

/// The special-purpose range `net` meets, if any.
fn special(net: &IpNet) -> Option<(&'static str, &'static str)> {
    // Parsed once: this runs for every entry of a list that refuses special space.
    static RANGES: LazyLock<Vec<(IpNet, &str, &str)>> = LazyLock::new(|| {
        SPECIAL_PURPOSE
            .iter()
            .filter_map(|&(range, name)| Some((range.parse().ok()?, range, name)))
            .collect()
    });
    RANGES
        .iter()
        .find(|(r, _, _)| r.contains(net) || net.contains(r))
        .map(|&(_, range, name)| (range, name))
}

/// One entry that breaks a limit: which list, which limit, and where the entry came from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Breach {
    /// The list whose limit was broken.
    pub list: List,
    /// The limit.
    pub kind: LimitKind,
    /// The entry.
    pub net: IpNet,
    /// The entry's source (feed file name).
    pub source: String,
    /// The entry's 1-based line in its source; 0 when it did not come from a line.
    pub line: u64,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = self.list;
        if self.line > 0 {
            write!(f, "{}:{}: {}: ", self.source, self.line, self.net)?;
        } else {
            write!(f, "{}: {}: ", self.source, self.net)?;
        }
        match self.kind {
            LimitKind::MinPrefixV4(min) | LimitKind::MinPrefixV6(min) => {
                let (fam, flag) = match self.kind {
                    LimitKind::MinPrefixV4(_) => ("IPv4", "--min-prefix-v4"),
                    _ => ("IPv6", "--min-prefix-v6"),
                };
                write!(
                    f,
                    "prefix /{} is broader than the {list} list allows for {fam} (/{min}); \
                     to accept it, compile with `{flag} {list}={}` or `--allow-broad {list}`",
                    self.net.prefix_len(),
                    self.net.prefix_len()
                )
            }
            LimitKind::EmbeddedV4 { min, encoding, len } => write!(
                f,
                "covers IPv4 space in its {encoding} form as broadly as an IPv4 /{len}, \
                 broader than the {list} list allows for IPv4 (/{min}); to accept it, compile \
                 with `--min-prefix-v4 {list}={len}` or `--allow-broad {list}`"
            ),
            LimitKind::SpecialPurpose { range, name } => write!(
                f,
                "meets special-purpose space {range} ({name}), which the {list} list does \
                 not hold; to accept it, compile without `--refuse-special {list}`"
            ),
            LimitKind::MaxEntries(max) => write!(
                f,
                "the {list} list would hold more than {max} entries; to accept more, \
                 compile with `--max-entries {list}=N` or `--allow-broad {list}`"
            ),
            LimitKind::MaxCoverageV4 { max, covered }
            | LimitKind::MaxCoverageV6 { max, covered } => {
                let (fam, flag) = match self.kind {
                    LimitKind::MaxCoverageV4 { .. } => ("IPv4", "--max-coverage-v4"),
                    _ => ("IPv6", "--max-coverage-v6"),
                };
                write!(
                    f,
                    "the {list} list covers {} of the {fam} address space, more than the {} \
                     allowed (this is its broadest {fam} entry); to accept it, compile with \
                     `{flag} {list}=PERCENT` or `--allow-broad {list}`",
                    Percent(covered),
                    Percent(max)
                )
            }
        }
    }
}

/// A share, printed as a percentage with enough digits to be nonzero when it is.
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0 * 100.0;
        if p == 0.0 || p >= 0.01 {
            write!(f, "{p:.2}%")
        } else {
            write!(f, "{p:.3e}%")
        }
    }
}

/// One entry as the checks see it.
pub(crate) struct Checked<'a> {
    pub(crate) list: List,
    pub(crate) net: IpNet,
    pub(crate) source: &'a str,
    pub(crate) line: u64,
}

impl Checked<'_> {
    fn breach(&self, kind: LimitKind) -> Breach {
        Breach {
            list: self.list,
            kind,
            net: self.net,
            source: self.source.to_owned(),
            line: self.line,
        }
    }
}

/// Every breach of `limits` by `entries` (distinct per list, in insertion order).
pub(crate) fn check<'a>(
    limits: &Limits,
    entries: impl Iterator<Item = Checked<'a>>,
) -> Vec<Breach> {
    let mut breaches = Vec::new();
    let mut counts = [0u64; 3];
    // Per list: the IPv4 and IPv6 intervals, and the broadest entry of each family.
    let mut v4: [Vec<(u32, u32)>; 3] = Default::default();
    let mut v6: [Vec<(u128, u128)>; 3] = Default::default();
    let mut broadest: [[Option<Checked<'a>>; 2]; 3] = Default::default();
    for e in entries {
        let i = e.list.index();
        let lim = &limits.lists[i];
        counts[i] += 1;
        match (e.net, lim.max_entries) {
            (_, Some(max)) if counts[i] == max.saturating_add(1) => {
                breaches.push(e.breach(LimitKind::MaxEntries(max)));
            }
            _ => {}
        }
        // One breach per entry, the most telling: too broad, then too broad through an
        // IPv4-in-IPv6 encoding, then special-purpose space.
        let mut breach = None;
        let (fam, len) = match e.net {
            IpNet::V4(n) => {
                if n.prefix_len() < lim.min_prefix_v4 {
                    breach = Some(LimitKind::MinPrefixV4(lim.min_prefix_v4));
                }
                if lim.max_coverage_v4.is_some() {
                    v4[i].push((u32::from(n.network()), u32::from(n.broadcast())));
                }
                (0, n.prefix_len())
            }
            IpNet::V6(n) => {
                if n.prefix_len() < lim.min_prefix_v6 {
                    breach = Some(LimitKind::MinPrefixV6(lim.min_prefix_v6));
                } else if let Some((encoding, len)) = embedded_v4(&n)
                    && len < lim.min_prefix_v4
                {
                    breach = Some(LimitKind::EmbeddedV4 {
                        min: lim.min_prefix_v4,
                        encoding,
                        len,
                    });
                }
                if lim.max_coverage_v6.is_some() {
                    v6[i].push((u128::from(n.network()), u128::from(n.broadcast())));
                }
                (1, n.prefix_len())
            }
        };
        if breach.is_none() && lim.refuse_special {
            breach = special(&e.net).map(|(range, name)| LimitKind::SpecialPurpose { range, name });
        }
        if let Some(kind) = breach {
            breaches.push(e.breach(kind));
        }
        let slot = &mut broadest[i][fam];
        if slot.as_ref().is_none_or(|b| len < b.net.prefix_len()) {
            *slot = Some(e);
        }
    }
    for list in List::ALL {
        let i = list.index();
        let lim = &limits.lists[i];
        if let (Some(max), Some(b)) = (lim.max_coverage_v4, &broadest[i][0]) {
            let covered = share(&mut v4[i], 32);
            if covered > max {
                breaches.push(b.breach(LimitKind::MaxCoverageV4 { max, covered }));
            }
        }
        if let (Some(max), Some(b)) = (lim.max_coverage_v6, &broadest[i][1]) {
            let covered = share(&mut v6[i], 128);
            if covered > max {
                breaches.push(b.breach(LimitKind::MaxCoverageV6 { max, covered }));
            }
        }
    }
    breaches
}

/// The share of a `bits`-bit address space covered by the union of inclusive intervals
/// that are prefixes (so any two are nested or disjoint).
fn share<T: Copy + Ord + Into<u128>>(intervals: &mut [(T, T)], bits: i32) -> f64 {
    intervals.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut total = 0.0f64;
    let mut end: Option<T> = None;
    for &(lo, hi) in intervals.iter() {
        if end.is_some_and(|e| lo <= e) {
            continue; // nested in the previous kept prefix
        }
        end = Some(hi);
        let (lo, hi): (u128, u128) = (lo.into(), hi.into());
        total += hi.wrapping_sub(lo) as f64 + 1.0;
    }
    total / 2f64.powi(bits)
}
