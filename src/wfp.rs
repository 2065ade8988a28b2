//! Windows Filtering Platform plans: the exact set of block filters that enforces a
//! [`Policy`] over a [`Table`], computed here so it can be checked on any OS.
//!
//! WFP has no address-set condition: each filter matches one remote-address prefix
//! (`FWP_V4_ADDR_MASK` / `FWP_V6_ADDR_MASK`) or one range (`FWP_RANGE_TYPE`). A [`Plan`] is
//! the list of such filters, all with the action *block*, on the four ALE authorization
//! [`Layer`]s; `examples/wfp_adapter.rs` installs it. Nothing in this module depends on
//! Windows.
//!
//! # What is blocked
//!
//! An address is covered by a filter of the plan **if and only if** [`Policy::decide`] gives
//! [`Verdict::Block`](crate::Verdict::Block) for the address as that layer sees it (with the
//! exceptions under *IPv4 inside IPv6* below). Per family, with the table's entries taken as
//! address intervals (never address by address):
//!
//! ```text
//! block = ( blocked                          if blocked mode is Block )
//!       ∪ ( global − blocked-if-LogOnly      if global mode is Block  )
//!       − approved
//! ```
//!
//! A blocked list in log-only mode decides `Log` for what it covers, so those addresses are
//! taken out of the global list's block set; approved entries are always carved out. The
//! result is merged into maximal intervals and written as the minimal prefix cover
//! ([`Shape::Prefixes`]: no two filters could be merged, none overlap) or as one filter per
//! interval ([`Shape::Ranges`], fewer filters when intervals are not prefix-aligned).
//!
//! The `_V4` layers get the IPv4 block set. The `_V6` layers get the IPv6 block set plus the
//! IPv6 spellings of the IPv4 block set, as below.
//!
//! # Exemptions
//!
//! By default ([`PlanOptions::default`]) a plan never blocks loopback (`127.0.0.0/8`, `::1`),
//! link-local (`169.254.0.0/16`, `fe80::/10`), multicast (`224.0.0.0/4`, `ff00::/8`) or the
//! limited broadcast address (`255.255.255.255`), whatever list covers them: feeds such as
//! FireHOL level1 carry `127.0.0.0/8` and `224.0.0.0/3`, and a filter on them would cut the
//! machine off from itself and its link. [`Plan::exempted`] says what each exemption took
//! out; [`PlanOptions::exemptions`] replaces the list (empty: exempt nothing). Lookups and
//! [`Policy::decide`] are unchanged: an exemption is about what the filters enforce. An
//! exemption applies to the address a layer sees: the NAT64 or 6to4 spelling of a listed
//! `127.0.0.1` is no local traffic and stays blocked.
//!
//! # IPv4 inside IPv6
//!
//! [`Policy::decide`] blocks an IPv6 address when it embeds a blocked IPv4 address under any
//! encoding enabled in [`Policy::embedded`]. For each enabled encoding the plan adds, at the
//! `_V6` layers, the IPv6 addresses that embed an IPv4 address of the block set:
//!
//! | encoding | IPv6 image of an IPv4 prefix `p/l` | exact? |
//! |---|---|---|
//! | mapped | none: WFP classifies an IPv4 connection made on a dual-stack socket at the `_V4` layers, with the IPv4 address, so the `_V4` filters already block it and a `::ffff:` filter would never match | yes, at the `_V4` layers ([`Plan::blocks`]); but an IPv6 *entry* covering `::ffff:0:0/96` (`::/64`) blocks `::ffff:a.b.c.d` under the policy and not `a.b.c.d`, which the `_V4` layers cannot tell apart: a gap |
//! | compatible | `::p/(96+l)`, less `::` and `::1` | yes |
//! | translated | `::ffff:0:p/(96+l)` | yes |
//! | NAT64 well-known | `64:ff9b::p/(96+l)` | yes |
//! | 6to4 | `2002:p::/(16+l)` | yes |
//! | Teredo server | `2001:0:p::/(32+l)` | yes |
//! | NAT64 /32 and /96 operator prefixes | the RFC 6052 placement | yes |
//! | NAT64 local-use (`64:ff9b:1::/48`), operator /40, /48, /56, /64 | the RFC 6052 placement with the "u" octet (bits 64–71) zero | only while `l` ≤ the bits before the u octet (24, 16, 8, 0); longer prefixes are blocked only for u = 0, the value RFC 6052 requires |
//! | Teredo client | none: the embedded address is the bit-inverted last 32 bits, after 64 wildcard bits, which no prefix or range can express | no, unless the block set is all of IPv4 |
//! | ISATAP | none: the embedded address follows 64 wildcard bits and the `0:5efe` or `200:5efe` identifier, which no prefix or range can express | no |
//!
//! What an image does not cover is reported in [`Plan::gaps`]: those addresses are decided
//! `Block` by the policy but are not blocked by the plan (a translator that ignores a
//! non-zero u octet, a direct Teredo peer). Everything a filter covers is decided `Block`.
//!
//! # Example
//!
//! ```
//! use c2trie::{Compiler, List, Meta, Mode, Policy, Table};
//! use c2trie::wfp::{Layer, Plan, PlanOptions, Shape};
//!
//! let mut c = Compiler::new();
//! c.add(List::Global, "192.0.2.0/24".parse()?, "feed", Meta::default())?;
//! c.add(List::Approved, "192.0.2.128/32".parse()?, "user", Meta::default())?;
//! let table = Table::from_bytes(c.to_vec()?)?;
//!
//! let mut policy = Policy::new(Mode::Block, Mode::Block);
//! policy.embedded = c2trie::policy::EmbeddedV4::none()
//!     .with(c2trie::policy::Encoding::Nat64WellKnown, true);
//! let plan = Plan::new(&table, &policy, Shape::Prefixes);
//! // 192.0.2.0/24 less one host: 8 prefixes, on two IPv4 and two IPv6 (NAT64) layers.
//! assert_eq!(plan.count(Layer::AleAuthConnectV4), 8);
//! assert_eq!(plan.len(), 32);
//! assert!(plan.covers(Layer::AleAuthConnectV6, "64:ff9b::192.0.2.1".parse()?));
//! assert!(!plan.covers(Layer::AleAuthConnectV4, "192.0.2.128".parse()?));
//! // A dual-stack socket's `::ffff:192.0.2.1` is classified at the IPv4 layers.
//! assert!(plan.blocks("::ffff:192.0.2.1".parse()?));
//! assert_eq!(
//!     plan.filters()[0].to_string(),
//!     r#"{"layer": "ALE_AUTH_CONNECT_V4", "action": "block", "remote": "192.0.2.0/25"}"#
//! );
//! // As ranges: two intervals per layer.
//! assert_eq!(Plan::new(&table, &policy, Shape::Ranges).len(), 8);
//! // Loopback is never blocked unless asked for.
//! let mut c = Compiler::new();
//! c.add(List::Blocked, "127.0.0.0/8".parse()?, "feed", Meta::default())?;
//! let table = Table::from_bytes(c.to_vec()?)?;
//! let plan = Plan::new(&table, &policy, Shape::Prefixes);
//! assert!(!plan.blocks("127.0.0.1".parse()?));
//! assert_eq!(plan.count(Layer::AleAuthConnectV4), 0);
//! assert_eq!(plan.exempted()[0].exemption.name, "loopback");
//! // Its NAT64 spellings are no local traffic: those are still blocked.
//! assert!(plan.blocks("64:ff9b::127.0.0.1".parse()?));
//! let strict = PlanOptions::default().exemptions(Vec::new());
//! assert!(Plan::with_options(&table, &policy, &strict).blocks("127.0.0.1".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::policy::{Encoding, Mode, Policy};
use crate::table::Table;

/// An ALE authorization layer a plan puts filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// `FWPM_LAYER_ALE_AUTH_CONNECT_V4`: outbound IPv4 connections.
    AleAuthConnectV4,
    /// `FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4`: inbound IPv4 connections (and re-authorized
    /// flows).
    AleAuthRecvAcceptV4,
    /// `FWPM_LAYER_ALE_AUTH_CONNECT_V6`: outbound IPv6 connections, dual-stack sockets
    /// included.
    AleAuthConnectV6,
    /// `FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6`: inbound IPv6 connections.
    AleAuthRecvAcceptV6,
}

impl Layer {
    /// All four layers.
    pub const ALL: [Layer; 4] = [
        Layer::AleAuthConnectV4,
        Layer::AleAuthRecvAcceptV4,
        Layer::AleAuthConnectV6,
        Layer::AleAuthRecvAcceptV6,
    ];

    /// The layer's name without the `FWPM_LAYER_` prefix, e.g. `ALE_AUTH_CONNECT_V4`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layer::AleAuthConnectV4 => "ALE_AUTH_CONNECT_V4",
            Layer::AleAuthRecvAcceptV4 => "ALE_AUTH_RECV_ACCEPT_V4",
            Layer::AleAuthConnectV6 => "ALE_AUTH_CONNECT_V6",
            Layer::AleAuthRecvAcceptV6 => "ALE_AUTH_RECV_ACCEPT_V6",
        }
    }

    /// Whether the layer sees IPv6 remote addresses.
    pub const fn is_v6(self) -> bool {
        matches!(self, Layer::AleAuthConnectV6 | Layer::AleAuthRecvAcceptV6)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a layer name that is not one of [`Layer::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLayerError(String);

impl fmt::Display for ParseLayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown WFP layer {:?}", self.0)
    }
}

impl std::error::Error for ParseLayerError {}

impl FromStr for Layer {
    type Err = ParseLayerError;

    /// Parses a name as [`Layer::as_str`] writes it, with or without `FWPM_LAYER_`.
    fn from_str(s: &str) -> Result<Layer, ParseLayerError> {
        let name = s.strip_prefix("FWPM_LAYER_").unwrap_or(s);
        Layer::ALL
            .into_iter()
            .find(|l| l.as_str() == name)
            .ok_or_else(|| ParseLayerError(s.to_owned()))
    }
}

/// The remote-address condition of one filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Remote {
    /// An address and prefix length (`FWP_V4_ADDR_MASK` / `FWP_V6_ADDR_MASK`).
    Prefix(IpNet),
    /// An inclusive range of one family (`FWP_RANGE_TYPE`), first ≤ last.
    Range(IpAddr, IpAddr),
}

impl Remote {
    /// Whether the condition is on IPv6 addresses.
    pub fn is_v6(&self) -> bool {
        match self {
            Remote::Prefix(n) => matches!(n, IpNet::V6(_)),
            Remote::Range(a, _) => a.is_ipv6(),
        }
    }

    /// The first and last address matched.
    pub fn bounds(&self) -> (IpAddr, IpAddr) {
        match *self {
            Remote::Prefix(n) => (n.network(), n.broadcast()),
            Remote::Range(a, b) => (a, b),
        }
    }

    /// The first and last address as integers (IPv4 in the low 32 bits).
    fn ints(&self) -> (u128, u128) {
        let (a, b) = self.bounds();
        (to_int(a), to_int(b))
    }

    /// Whether `addr` matches (an address of the other family never does).
    pub fn contains(&self, addr: IpAddr) -> bool {
        if addr.is_ipv6() != self.is_v6() {
            return false;
        }
        let (lo, hi) = self.ints();
        (lo..=hi).contains(&to_int(addr))
    }
}

impl fmt::Display for Remote {
    /// `203.0.113.0/24` for a prefix, `203.0.113.5-203.0.113.9` for a range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remote::Prefix(n) => write!(f, "{n}"),
            Remote::Range(a, b) => write!(f, "{a}-{b}"),
        }
    }
}

/// The error for a remote that is not a prefix or a range of one family, first ≤ last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseRemoteError(String);

impl fmt::Display for ParseRemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid remote address condition {:?}", self.0)
    }
}

impl std::error::Error for ParseRemoteError {}

impl FromStr for Remote {
    type Err = ParseRemoteError;

    /// Parses what [`Remote`]'s `Display` writes.
    fn from_str(s: &str) -> Result<Remote, ParseRemoteError> {
        let err = || ParseRemoteError(s.to_owned());
        if let Some((a, b)) = s.split_once('-') {
            let a: IpAddr = a.parse().map_err(|_| err())?;
            let b: IpAddr = b.parse().map_err(|_| err())?;
            if a.is_ipv6() != b.is_ipv6() || to_int(a) > to_int(b) {
                return Err(err());
            }
            Ok(Remote::Range(a, b))
        } else {
            let n: IpNet = s.parse().map_err(|_| err())?;
            Ok(Remote::Prefix(n.trunc()))
        }
    }
}

impl Ord for Remote {
    /// IPv4 before IPv6, then by first address, then by last address (a prefix before a
    /// range of the same addresses).
    fn cmp(&self, other: &Remote) -> Ordering {
        let key = |r: &Remote| {
            let (variant, first) = match r {
                Remote::Prefix(n) => (0, to_int(n.addr())),
                Remote::Range(a, _) => (1, to_int(*a)),
            };
            (r.is_v6(), r.ints(), variant, first)
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for Remote {
    fn partial_cmp(&self, other: &Remote) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One block filter: a layer and a remote-address condition. The action is always block.
///
/// `Display` writes the JSON line the adapter's dry run prints:
/// `{"layer": "ALE_AUTH_CONNECT_V4", "action": "block", "remote": "203.0.113.0/24"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct Filter {
    /// The layer.
    pub layer: Layer,
    /// The remote address it blocks.
    pub remote: Remote,
}

impl Filter {
    /// The action, always `"block"`.
    pub const ACTION: &'static str = "block";

    /// A filter blocking `remote` at `layer` (for tests and for rebuilding a plan read back
    /// from its JSON lines).
    pub fn new(layer: Layer, remote: Remote) -> Filter {
        Filter { layer, remote }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"{{"layer": "{}", "action": "{}", "remote": "{}"}}"#,
            self.layer,
            Filter::ACTION,
            self.remote
        )
    }
}

/// How a plan writes each maximal block interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// The minimal prefix cover: address/mask conditions only.
    Prefixes,
    /// One filter per interval: a prefix where the interval is one, a range otherwise.
    Ranges,
}

/// Where a plan is narrower than the policy: IPv6 addresses the policy decides `Block`
/// (through an embedded IPv4 address) that no filter covers. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gap {
    /// The encoding.
    pub encoding: Encoding,
    /// The NAT64 prefix the encoding uses, for the RFC 6052 encodings.
    pub nat64_prefix: Option<Ipv6Net>,
    /// How many prefixes of the IPv4 block set (its minimal prefix cover) are not fully
    /// expressed under this encoding.
    pub v4_prefixes: usize,
    /// What is left out.
    pub note: &'static str,
}

/// An address range a plan never blocks. See the [module docs](self#exemptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Exemption {
    /// What the range is, e.g. `loopback`.
    pub name: &'static str,
    /// The range.
    pub net: IpNet,
}

impl Exemption {
    /// An exemption for `net`.
    pub fn new(name: &'static str, net: IpNet) -> Exemption {
        Exemption { name, net }
    }

    /// The default exemptions: loopback, link-local and multicast for both families, and
    /// the IPv4 limited broadcast address.
    pub fn defaults() -> Vec<Exemption> {
        [
            ("loopback", "127.0.0.0/8"),
            ("link-local", "169.254.0.0/16"),
            ("multicast", "224.0.0.0/4"),
            ("limited broadcast", "255.255.255.255/32"),
            ("loopback", "::1/128"),
            ("link-local", "fe80::/10"),
            ("multicast", "ff00::/8"),
        ]
        .into_iter()
        .filter_map(|(name, net)| Some(Exemption::new(name, net.parse().ok()?)))
        .collect()
    }
}

/// What one exemption took out of a plan's block set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exempted {
    /// The exemption.
    pub exemption: Exemption,
    /// How many addresses the policy blocks in its range (the plan does not).
    pub addresses: u128,
}

/// How a plan is built. The default: [`Shape::Prefixes`] and [`Exemption::defaults`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanOptions {
    /// How each interval is written.
    pub shape: Shape,
    /// The ranges never blocked.
    pub exempt: Vec<Exemption>,
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions {
            shape: Shape::Prefixes,
            exempt: Exemption::defaults(),
        }
    }
}

impl PlanOptions {
    /// These options with `shape`.
    pub fn shape(mut self, shape: Shape) -> PlanOptions {
        self.shape = shape;
        self
    }

    /// These options with `exempt` as the exemptions (empty: exempt nothing).
    pub fn exemptions(mut self, exempt: Vec<Exemption>) -> PlanOptions {
        self.exempt = exempt;
        self
    }
}

/// The block filters enforcing a policy over a table. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Sorted by layer, then address; disjoint within a layer.
    filters: Vec<Filter>,
    gaps: Vec<Gap>,
    exempted: Vec<Exempted>,
}

/// The filters to delete and to add to turn one plan into another.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PlanDiff {
    /// Filters of the new plan that the old one lacks.
    pub add: Vec<Filter>,
    /// Filters of the old plan that the new one lacks.
    pub delete: Vec<Filter>,
}

impl PlanDiff {
    /// Whether the plans were equal.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.delete.is_empty()
    }

    /// Filters touched: added plus deleted.
    pub fn len(&self) -> usize {
        self.add.len() + self.delete.len()
    }
}

/// An inclusive interval of addresses as integers.
type Iv = (u128, u128);

impl Plan {
    /// The plan for `table` under `policy`, written in `shape`, with the default
    /// exemptions ([`Exemption::defaults`]).
    pub fn new(table: &Table, policy: &Policy, shape: Shape) -> Plan {
        Plan::with_options(table, policy, &PlanOptions::default().shape(shape))
    }

    /// The plan for `table` under `policy`, built as `options` say.
    pub fn with_options(table: &Table, policy: &Policy, options: &PlanOptions) -> Plan {
        let [v4, v6] = block_sets(table, policy);
        // Images are taken of the whole IPv4 block set: an exemption applies to the address
        // a layer sees, not to the IPv4 address an IPv6 one embeds.
        let (images, mut gaps) = embedded_images(&v4, policy);
        if let Some(gap) = mapped_gap(&v6) {
            gaps.push(gap);
        }
        let v6 = union(v6, images);
        let mut exempted = Vec::new();
        let mut sets = [v4, v6];
        for e in &options.exempt {
            let iv = interval(&e.net);
            let set = &mut sets[usize::from(matches!(e.net, IpNet::V6(_)))];
            let hit = intersect(set, iv);
            if hit > 0 {
                *set = subtract(set, &[iv]);
                exempted.push(Exempted {
                    exemption: *e,
                    addresses: hit,
                });
            }
        }
        let [v4, v6] = sets;
        let mut filters = Vec::new();
        for layer in Layer::ALL {
            let (set, bits) = if layer.is_v6() { (&v6, 128) } else { (&v4, 32) };
            for &iv in set {
                push_interval(&mut filters, layer, iv, bits, options.shape);
            }
        }
        filters.sort_unstable();
        Plan {
            filters,
            gaps,
            exempted,
        }
    }

    /// What the exemptions took out, one record per exemption that met the block set.
    pub fn exempted(&self) -> &[Exempted] {
        &self.exempted
    }

    /// Whether a connection to or from `addr` meets one of the plan's filters, at the
    /// layers WFP classifies it at: the `_V4` layers for an IPv4 address and for an
    /// IPv4-mapped one (`::ffff:a.b.c.d`, a dual-stack socket's IPv4 traffic), the `_V6`
    /// layers otherwise.
    pub fn blocks(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            a => a,
        };
        let layer = if addr.is_ipv6() {
            Layer::AleAuthConnectV6
        } else {
            Layer::AleAuthConnectV4
        };
        self.covers(layer, addr)
    }

    /// Every filter, sorted by layer then address; filters of one layer do not overlap.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// The number of filters.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Whether the plan blocks nothing.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// The number of filters on `layer`.
    pub fn count(&self, layer: Layer) -> usize {
        self.layer(layer).len()
    }

    /// The filters on `layer`.
    pub fn layer(&self, layer: Layer) -> &[Filter] {
        let lo = self.filters.partition_point(|f| f.layer < layer);
        let hi = self.filters.partition_point(|f| f.layer <= layer);
        &self.filters[lo..hi]
    }

    /// Whether a filter on `layer` covers `addr`. A binary search.
    pub fn covers(&self, layer: Layer, addr: IpAddr) -> bool {
        if addr.is_ipv6() != layer.is_v6() {
            return false;
        }
        let fs = self.layer(layer);
        let a = to_int(addr);
        let i = fs.partition_point(|f| f.remote.ints().0 <= a);
        i > 0 && fs[i - 1].remote.ints().1 >= a
    }

    /// The filter on `layer` covering `addr`, if any.
    pub fn filter_for(&self, layer: Layer, addr: IpAddr) -> Option<&Filter> {
        if addr.is_ipv6() != layer.is_v6() {
            return None;
        }
        let fs = self.layer(layer);
        let a = to_int(addr);
        let i = fs.partition_point(|f| f.remote.ints().0 <= a);
        fs[..i].last().filter(|f| f.remote.ints().1 >= a)
    }

    /// Where the plan blocks less than the policy (see the [module docs](self)); empty when
    /// the plan is exact.
    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    /// What turns `old` into `new`: the filters only in `old` (delete) and only in `new`
    /// (add), each sorted. Filters in both are untouched.
    pub fn diff(old: &Plan, new: &Plan) -> PlanDiff {
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&old.filters, &new.filters);
        let mut d = PlanDiff::default();
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    d.delete.push(*x);
                    i += 1;
                }
                (Some(_), Some(y)) | (None, Some(y)) => {
                    d.add.push(*y);
                    j += 1;
                }
                (Some(x), None) => {
                    d.delete.push(*x);
                    i += 1;
                }
                (None, None) => break,
            }
        }
        d
    }

    /// Writes one JSON line per filter (see [`Filter`]).
    ///
    /// # Errors
    ///
    /// The writer's.
    pub fn write_json_lines(&self, mut w: impl io::Write) -> io::Result<()> {
        for f in &self.filters {
            writeln!(w, "{f}")?;
        }
        Ok(())
    }
}

/// The integer of an address (IPv4 in the low 32 bits).
fn to_int(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

fn interval(net: &IpNet) -> Iv {
    match net {
        IpNet::V4(n) => (
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// Sorts and coalesces overlapping and adjacent intervals.
fn merge(mut v: Vec<Iv>) -> Vec<Iv> {
    v.sort_unstable();
    let mut out: Vec<Iv> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if last.1 == u128::MAX || lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn union(mut a: Vec<Iv>, b: Vec<Iv>) -> Vec<Iv> {
    a.extend(b);
    merge(a)
}

/// How many addresses of the merged set `a` lie in `iv` (at most 2^128 − 1: a set that
/// is all of IPv6 counts one short).
fn intersect(a: &[Iv], (lo, hi): Iv) -> u128 {
    a.iter()
        .filter(|&&(x, y)| x <= hi && y >= lo)
        .map(|&(x, y)| (y.min(hi) - x.max(lo)).saturating_add(1))
        .fold(0u128, u128::saturating_add)
}

/// `a − b`, both merged (sorted, disjoint); the result is merged.
fn subtract(a: &[Iv], b: &[Iv]) -> Vec<Iv> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &(lo, hi) in a {
        let mut cur = lo;
        let mut alive = true;
        while j < b.len() && b[j].1 < cur {
            j += 1;
        }
        let mut k = j;
        while alive && k < b.len() && b[k].0 <= hi {
            let (blo, bhi) = b[k];
            if blo > cur {
                out.push((cur, blo - 1));
            }
            if bhi >= hi {
                alive = false;
            } else {
                cur = bhi + 1;
                k += 1;
            }
        }
        if alive {
            out.push((cur, hi));
        }
    }
    out
}

/// The minimal prefix cover of `[lo, hi]` in a `bits`-bit space, as (network, length).
fn prefix_cover(lo: u128, hi: u128, bits: u32) -> Vec<(u128, u8)> {
    let mut out = Vec::new();
    let mut lo = lo;
    loop {
        let align = if lo == 0 {
            bits
        } else {
            lo.trailing_zeros().min(bits)
        };
        let span = hi - lo;
        // The largest aligned block starting at lo that ends at or before hi.
        let mut k = align;
        while k > 0 && mask(k) > span {
            k -= 1;
        }
        out.push((lo, (bits - k) as u8));
        match (lo + mask(k)).checked_add(1) {
            Some(next) if next <= hi => lo = next,
            _ => break,
        }
    }
    out
}

fn net_of(addr: u128, len: u8, bits: u32) -> IpNet {
    if bits == 32 {
        // In range: IPv4 intervals are built from IPv4 addresses only.
        let a = Ipv4Addr::from(addr as u32);
        IpNet::V4(Ipv4Net::new_assert(a, len))
    } else {
        IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(addr), len))
    }
}

fn addr_of(a: u128, bits: u32) -> IpAddr {
    if bits == 32 {
        IpAddr::V4(Ipv4Addr::from(a as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(a))
    }
}

fn push_interval(out: &mut Vec<Filter>, layer: Layer, (lo, hi): Iv, bits: u32, shape: Shape) {
    let cover = prefix_cover(lo, hi, bits);
    match (shape, cover.as_slice()) {
        (Shape::Ranges, [_, _, ..]) => out.push(Filter {
            layer,
            remote: Remote::Range(addr_of(lo, bits), addr_of(hi, bits)),
        }),
        _ => out.extend(cover.into_iter().map(|(a, len)| Filter {
            layer,
            remote: Remote::Prefix(net_of(a, len, bits)),
        })),
    }
}

/// The merged block sets `[v4, v6]` (see the module docs).
fn block_sets(table: &Table, policy: &Policy) -> [Vec<Iv>; 2] {
    // [family][list]
    let mut raw: [[Vec<Iv>; 3]; 2] = Default::default();
    for e in table.entries() {
        let p = e.prefix();
        let fam = usize::from(matches!(p, IpNet::V6(_)));
        raw[fam][e.list().index()].push(interval(&p));
    }
    raw.map(|[approved, blocked, global]| {
        let (approved, blocked, global) = (merge(approved), merge(blocked), merge(global));
        let mut block = Vec::new();
        if policy.blocked == Mode::Block {
            block = blocked.clone();
        }
        if policy.global == Mode::Block {
            let g = if policy.blocked == Mode::LogOnly {
                subtract(&global, &blocked)
            } else {
                global
            };
            block = union(block, g);
        }
        subtract(&block, &approved)
    })
}

/// How an encoding places an IPv4 address inside an IPv6 address.
#[derive(Debug, Clone, Copy)]
enum Placement {
    /// The 32 bits at `shift` (counted from the low end) under a fixed `prefix` of `len`
    /// bits; everything below is free.
    Contiguous { prefix: u128, len: u32, shift: u32 },
    /// RFC 6052 with a prefix of `len` < 96 bits: the address is split around the u octet
    /// (bits 64–71).
    Rfc6052 { prefix: u128, len: u32 },
}

const TRANSLATED: u128 = 0xffff_0000 << 32;
const MAPPED: u128 = 0xffff << 32;

/// The gap left by IPv6 entries that cover IPv4-mapped addresses (`::/64`,
/// `::ffff:0:0/95`): the policy blocks `::ffff:a.b.c.d` through them, but WFP classifies
/// such a connection at the `_V4` layers as `a.b.c.d`, which only IPv4 entries block, and
/// blocking `a.b.c.d` there would block what the policy lets through.
fn mapped_gap(v6: &[Iv]) -> Option<Gap> {
    let end = MAPPED | mask(32);
    let v4_prefixes: usize = v6
        .iter()
        .filter(|&&(lo, hi)| lo <= end && hi >= MAPPED)
        .map(|&(lo, hi)| prefix_cover(lo.max(MAPPED) - MAPPED, hi.min(end) - MAPPED, 32).len())
        .sum();
    (v4_prefixes > 0).then_some(Gap {
        encoding: Encoding::Mapped,
        nat64_prefix: None,
        v4_prefixes,
        note: "IPv6 entries cover ::ffff:0:0/96, but WFP sees those connections at the V4 \
               layers as IPv4 addresses, which only IPv4 entries block",
    })
}
const NAT64_WKP: u128 = 0x0064_ff9b << 96;
const NAT64_LOCAL: u128 = 0x0064_ff9b_0001 << 80;
const SIX_TO_FOUR: u128 = 0x2002 << 112;
const TEREDO: u128 = 0x2001_0000 << 96;

fn placement(prefix: u128, len: u32) -> Placement {
    if len == 96 {
        Placement::Contiguous {
            prefix,
            len,
            shift: 0,
        }
    } else if len <= 32 {
        // RFC 6052 /32: bits 32–63, before the u octet.
        Placement::Contiguous {
            prefix,
            len,
            shift: 64,
        }
    } else {
        Placement::Rfc6052 { prefix, len }
    }
}

/// The IPv6 image of the IPv4 prefix `(p, l)`: a prefix `(addr, len)`, and whether it is the
/// whole image (false when only the u = 0 part could be expressed).
fn image(pl: Placement, p: u32, l: u32) -> (u128, u32, bool) {
    let p = u128::from(p);
    match pl {
        Placement::Contiguous { prefix, len, shift } => (prefix | (p << shift), len + l, true),
        Placement::Rfc6052 { prefix, len } => {
            // k bits of the address sit before the u octet, 32 − k after it.
            let k = 64 - len;
            let high = p >> (32 - k);
            let low = p & mask(32 - k);
            let addr = prefix | (high << (128 - len - k)) | (low << (128 - 72 - (32 - k)));
            if l <= k {
                (addr, len + l, true)
            } else {
                (addr, 72 + (l - k), false)
            }
        }
    }
}

/// The IPv6 addresses that embed an address of `v4` under the policy's encodings, and the
/// gaps where that cannot be expressed.
fn embedded_images(v4: &[Iv], policy: &Policy) -> (Vec<Iv>, Vec<Gap>) {
    let cover: Vec<(u32, u32)> = v4
        .iter()
        .flat_map(|&(lo, hi)| prefix_cover(lo, hi, 32))
        .map(|(a, len)| (a as u32, u32::from(len)))
        .collect();
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    if cover.is_empty() {
        return (out, gaps);
    }
    let on = |e| policy.embedded.is_enabled(e);
    let mut placements: Vec<(Encoding, Option<Ipv6Net>, Placement)> = Vec::new();
    // No `Mapped` entry: WFP classifies a dual-stack socket's IPv4 traffic at the `_V4`
    // layers with the IPv4 address, where the IPv4 block set already stands.
    let fixed = [
        (Encoding::Compatible, 0, 96),
        (Encoding::Translated, TRANSLATED, 96),
        (Encoding::Nat64WellKnown, NAT64_WKP, 96),
        (Encoding::Nat64LocalUse, NAT64_LOCAL, 48),
    ];
    for (enc, prefix, len) in fixed {
        if on(enc) {
            let net = (enc == Encoding::Nat64LocalUse)
                .then(|| Ipv6Net::new_assert(Ipv6Addr::from(prefix), len as u8));
            placements.push((enc, net, placement(prefix, len)));
        }
    }
    if on(Encoding::Nat64Operator) {
        for p in policy.embedded.nat64_prefixes() {
            let len = u32::from(p.prefix_len());
            placements.push((
                Encoding::Nat64Operator,
                Some(*p),
                placement(u128::from(p.network()), len),
            ));
        }
    }
    if on(Encoding::SixToFour) {
        placements.push((
            Encoding::SixToFour,
            None,
            Placement::Contiguous {
                prefix: SIX_TO_FOUR,
                len: 16,
                shift: 80,
            },
        ));
    }
    if on(Encoding::TeredoServer) {
        placements.push((
            Encoding::TeredoServer,
            None,
            Placement::Contiguous {
                prefix: TEREDO,
                len: 32,
                shift: 64,
            },
        ));
    }
    for (enc, net, pl) in placements {
        let mut partial = 0;
        let mut imgs = Vec::with_capacity(cover.len());
        for &(p, l) in &cover {
            let (addr, len, whole) = image(pl, p, l);
            imgs.push((addr, addr | mask(128 - len)));
            partial += usize::from(!whole);
        }
        if enc == Encoding::Compatible {
            // `::` and `::1` are not IPv4-compatible addresses.
            imgs = subtract(&merge(imgs), &[(0, 1)]);
        }
        out.extend(imgs);
        if partial > 0 {
            gaps.push(Gap {
                encoding: enc,
                nat64_prefix: net,
                v4_prefixes: partial,
                note: "blocked only with a zero u octet (bits 64-71), as RFC 6052 requires",
            });
        }
    }
    if on(Encoding::TeredoClient) {
        if cover == [(0, 0)] {
            out.push((TEREDO, TEREDO | mask(96)));
        } else {
            gaps.push(Gap {
                encoding: Encoding::TeredoClient,
                nat64_prefix: None,
                v4_prefixes: cover.len(),
                note: "the client address is bit-inverted below 64 free bits: no prefix or range",
            });
        }
    }
    if on(Encoding::Isatap) {
        gaps.push(Gap {
            encoding: Encoding::Isatap,
            nat64_prefix: None,
            v4_prefixes: cover.len(),
            note: "the address follows 64 free bits and the 0:5efe identifier: no prefix or range",
        });
    }
    (merge(out), gaps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(s: &str) -> Iv {
        interval(&s.parse().unwrap())
    }

    #[test]
    fn prefix_cover_is_the_classic_split() {
        let c = prefix_cover(iv("10.0.0.1/32").0, iv("10.0.0.6/32").0, 32);
        let nets: Vec<String> = c
            .iter()
            .map(|&(a, l)| net_of(a, l, 32).to_string())
            .collect();
        assert_eq!(
            nets,
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert_eq!(prefix_cover(0, u128::MAX, 128), [(0, 0)]);
        assert_eq!(prefix_cover(0, u128::from(u32::MAX), 32), [(0, 0)]);
        assert_eq!(prefix_cover(u128::MAX, u128::MAX, 128), [(u128::MAX, 128)]);
        assert_eq!(prefix_cover(1, u128::MAX, 128).len(), 128);
    }

    #[test]
    fn subtract_and_merge() {
        assert_eq!(merge(vec![(5, 9), (0, 4), (20, 30)]), [(0, 9), (20, 30)]);
        assert_eq!(merge(vec![(0, u128::MAX), (3, 4)]), [(0, u128::MAX)]);
        assert_eq!(
            subtract(&[(0, 100)], &[(0, 0), (10, 20), (50, 200)]),
            [(1, 9), (21, 49)]
        );
        assert_eq!(
            subtract(&[(0, 5), (10, 15)], &[(3, 12)]),
            [(0, 2), (13, 15)]
        );
        assert_eq!(subtract(&[(5, 5)], &[]), [(5, 5)]);
        assert!(subtract(&[(5, 5)], &[(0, u128::MAX)]).is_empty());
    }

    #[test]
    fn rfc6052_images_match_the_rfc_examples() {
        // RFC 6052 §2.4: 192.0.2.33 under each prefix length.
        let v4 = u32::from(Ipv4Addr::new(192, 0, 2, 33));
        let cases = [
            ("2001:db8::/32", "2001:db8:c000:221::"),
            ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
            ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
        ];
        for (p, want) in cases {
            let p: Ipv6Net = p.parse().unwrap();
            let pl = placement(u128::from(p.network()), u32::from(p.prefix_len()));
            let (addr, len, _) = image(pl, v4, 32);
            let want: Ipv6Addr = want.parse().unwrap();
            assert_eq!(Ipv6Addr::from(addr), want, "{p}");
            assert!(len <= 128 && addr & mask(128 - len) == 0, "{p} {len}");
        }
    }

    #[test]
    fn remote_round_trips_its_spelling() {
        for s in [
            "203.0.113.0/24",
            "2001:db8::/32",
            "10.0.0.5-10.0.0.9",
            "::1-::ffff",
        ] {
            assert_eq!(s.parse::<Remote>().unwrap().to_string(), s);
        }
        for s in ["10.0.0.9-10.0.0.5", "10.0.0.1-::2", "x", "10.0.0.0/33"] {
            assert!(s.parse::<Remote>().is_err(), "{s}");
        }
        for l in Layer::ALL {
            assert_eq!(l.as_str().parse::<Layer>().unwrap(), l);
        }
    }
}
