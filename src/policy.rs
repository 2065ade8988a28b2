//! Policy: turning a table's per-list matches into a verdict, at run time.
//!
//! The table stores *where* a prefix came from (its [`List`]); the [`Policy`] decides what
//! that means. Changing a mode needs no recompile.
//!
//! # Precedence
//!
//! For one address, the lists are consulted in this order; the first row that applies
//! decides. "Covers" means the list has an entry containing the address, however broad; the
//! entry reported is that list's longest match.
//!
//! | approved covers | blocked covers, mode | global covers, mode | verdict | decided by |
//! |---|---|---|---|---|
//! | yes | anything | anything | [`Verdict::Allow`] | approved |
//! | no | yes, [`Mode::Block`] | anything | [`Verdict::Block`] | blocked |
//! | no | yes, [`Mode::LogOnly`] | anything | [`Verdict::Log`] | blocked |
//! | no | no, or [`Mode::Off`] | yes, [`Mode::Block`] | [`Verdict::Block`] | global |
//! | no | no, or [`Mode::Off`] | yes, [`Mode::LogOnly`] | [`Verdict::Log`] | global |
//! | no | no, or [`Mode::Off`] | no, or [`Mode::Off`] | [`Verdict::Pass`] | nothing |
//!
//! The blocked list decides whenever it covers the address and is not `Off`: a blocked list
//! in log-only mode yields `Log` even when the global list would block. A list in `Off` mode
//! falls through as if it had no entry.
//!
//! # IPv4 inside IPv6
//!
//! An IPv6 address can carry an IPv4 address ([`Encoding`]): `::ffff:192.0.2.1` reaches
//! `192.0.2.1`, and so, through a translator, relay or tunnel, do NAT64, 6to4, Teredo and
//! ISATAP addresses.
//! So that no spelling slips past an IPv4 entry, [`Policy::decide`] decides the IPv6 address
//! *and* every IPv4 address it embeds (each [`Encoding`] enabled in
//! [`Policy::embedded`]), then keeps the **most severe** of those decisions, in the order
//!
//! > [`Verdict::Block`] > [`Verdict::Log`] > [`Verdict::Allow`] > [`Verdict::Pass`]
//!
//! (ties go to the address the connection literally uses). The result is therefore never
//! weaker than the decision for any embedded IPv4 address alone.
//!
//! Approval is per address: an approved entry allows the address it covers, but it does not
//! lift a block or a log that applies to *another* address the connection also reaches. An
//! operator who approves `2002::/16` has not approved every IPv4 host reachable through 6to4,
//! and an approved `192.0.2.1` does not lift a block the operator put on the IPv6 address
//! itself. The alternative, letting an approval on the literal address win, would let anyone
//! who can get an approved IPv6 prefix (a broad NAT64 or relay prefix) reach any listed IPv4
//! server through it, which is the bypass this check exists to close.
//!
//! An IPv6 address with an embedded IPv4 address that is itself approved (and on no other
//! list) is `Allow`, like the IPv4 address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv6Net};

use crate::entry::List;
use crate::table::{EntryRef, Hits, Table};

#[cfg(feature = "serde")]
mod serial;

/// What a list does with the addresses it covers. Chosen at run time.
///
/// The set is complete, like [`Verdict`]: callers may match it exhaustively.
///
/// # Example
///
/// ```
/// use c2trie::Mode;
///
/// let m: Mode = "log".parse()?;
/// assert_eq!(m, Mode::LogOnly);
/// assert_eq!(m.to_string(), "log");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Mode {
    /// The list is ignored: addresses it covers fall through to the next list.
    #[cfg_attr(feature = "serde", serde(rename = "off"))]
    Off,
    /// Covered addresses are let through and reported ([`Verdict::Log`]).
    #[cfg_attr(feature = "serde", serde(rename = "log", alias = "log-only"))]
    LogOnly,
    /// Covered addresses are blocked ([`Verdict::Block`]).
    #[cfg_attr(feature = "serde", serde(rename = "block"))]
    Block,
}

impl Mode {
    /// All modes.
    pub const ALL: [Mode; 3] = [Mode::Off, Mode::LogOnly, Mode::Block];

    /// The command-line spelling: `off`, `log` or `block`.
    ///
    /// ```
    /// assert_eq!(c2trie::Mode::Block.as_str(), "block");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::LogOnly => "log",
            Mode::Block => "block",
        }
    }

    /// The verdict for an address this list decides; `None` for [`Mode::Off`].
    const fn verdict(self) -> Option<Verdict> {
        match self {
            Mode::Off => None,
            Mode::LogOnly => Some(Verdict::Log),
            Mode::Block => Some(Verdict::Block),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a mode name that is not `off`, `log` or `block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseModeError(String);

impl fmt::Display for ParseModeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown mode {:?} (expected off, log or block)", self.0)
    }
}

impl std::error::Error for ParseModeError {}

impl FromStr for Mode {
    type Err = ParseModeError;

    /// Parses `off`, `log` (also `log-only`) or `block`.
    fn from_str(s: &str) -> Result<Mode, ParseModeError> {
        match s {
            "off" => Ok(Mode::Off),
            "log" | "log-only" => Ok(Mode::LogOnly),
            "block" => Ok(Mode::Block),
            _ => Err(ParseModeError(s.to_owned())),
        }
    }
}

/// What to do with a connection.
///
/// The set is complete: adding a verdict would be a breaking change by design, so that a
/// firewall adapter's `match` stays exhaustive and a new verdict cannot fall silently into a
/// wildcard arm.
///
/// # Example
///
/// ```
/// use c2trie::Verdict;
///
/// let v: Verdict = "block".parse()?;
/// assert!(v.severity() > Verdict::Log.severity());
/// assert_eq!(v.to_string(), "block");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Verdict {
    /// An approved entry covers the address: let it through.
    Allow,
    /// A list in [`Mode::Block`] covers the address: refuse it.
    Block,
    /// A list in [`Mode::LogOnly`] covers the address: let it through and report it.
    Log,
    /// No list decides: let it through.
    Pass,
}

impl Verdict {
    /// All verdicts.
    pub const ALL: [Verdict; 4] = [Verdict::Allow, Verdict::Block, Verdict::Log, Verdict::Pass];

    /// The command-line spelling: `allow`, `block`, `log` or `pass`.
    ///
    /// ```
    /// assert_eq!(c2trie::Verdict::Pass.as_str(), "pass");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Block => "block",
            Verdict::Log => "log",
            Verdict::Pass => "pass",
        }
    }

    /// The order used to combine the decisions for an IPv6 address and the IPv4 addresses
    /// it embeds: `Block` (3) > `Log` (2) > `Allow` (1) > `Pass` (0).
    ///
    /// ```
    /// use c2trie::Verdict;
    /// assert!(Verdict::Allow.severity() > Verdict::Pass.severity());
    /// ```
    pub const fn severity(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Allow => 1,
            Verdict::Log => 2,
            Verdict::Block => 3,
        }
    }

    /// Whether the connection is refused (`Block`).
    ///
    /// ```
    /// assert!(c2trie::Verdict::Block.is_block());
    /// ```
    pub const fn is_block(self) -> bool {
        matches!(self, Verdict::Block)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a verdict name that is not `allow`, `block`, `log` or `pass`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseVerdictError(String);

impl fmt::Display for ParseVerdictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown verdict {:?} (expected allow, block, log or pass)",
            self.0
        )
    }
}

impl std::error::Error for ParseVerdictError {}

impl FromStr for Verdict {
    type Err = ParseVerdictError;

    fn from_str(s: &str) -> Result<Verdict, ParseVerdictError> {
        match s {
            "allow" => Ok(Verdict::Allow),
            "block" => Ok(Verdict::Block),
            "log" => Ok(Verdict::Log),
            "pass" => Ok(Verdict::Pass),
            _ => Err(ParseVerdictError(s.to_owned())),
        }
    }
}

/// A way an IPv6 address carries an IPv4 address.
///
/// # Example
///
/// ```
/// use c2trie::policy::{EmbeddedV4, Encoding};
///
/// let found: Vec<_> = EmbeddedV4::all().decode("2002:c000:0201::1".parse()?).collect();
/// assert_eq!(found, [(Encoding::SixToFour, "192.0.2.1".parse()?)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Encoding {
    /// IPv4-mapped, `::ffff:0:0/96` (RFC 4291): the last 32 bits.
    #[cfg_attr(feature = "serde", serde(rename = "mapped"))]
    Mapped,
    /// IPv4-compatible, `::/96` except `::` and `::1` (RFC 4291, deprecated): the last 32 bits.
    #[cfg_attr(feature = "serde", serde(rename = "compatible"))]
    Compatible,
    /// IPv4-translated, `::ffff:0:0:0/96` (RFC 2765, SIIT): the last 32 bits.
    #[cfg_attr(feature = "serde", serde(rename = "translated"))]
    Translated,
    /// NAT64 well-known prefix `64:ff9b::/96` (RFC 6052): the last 32 bits.
    #[cfg_attr(feature = "serde", serde(rename = "nat64"))]
    Nat64WellKnown,
    /// NAT64 local-use prefix `64:ff9b:1::/48` (RFC 8215), in the RFC 6052 /48 format: bits
    /// 48–63 and 72–87 (bits 64–71 are the reserved "u" octet and are skipped).
    #[cfg_attr(feature = "serde", serde(rename = "nat64-local"))]
    Nat64LocalUse,
    /// An operator-configured NAT64 prefix ([`EmbeddedV4::add_nat64_prefix`]), in the RFC
    /// 6052 format for its length.
    #[cfg_attr(feature = "serde", serde(rename = "nat64-operator"))]
    Nat64Operator,
    /// 6to4, `2002::/16` (RFC 3056): bits 16–47.
    #[cfg_attr(feature = "serde", serde(rename = "6to4"))]
    SixToFour,
    /// Teredo server, `2001::/32` (RFC 4380): bits 32–63.
    #[cfg_attr(feature = "serde", serde(rename = "teredo-server"))]
    TeredoServer,
    /// Teredo client, `2001::/32` (RFC 4380): the bitwise NOT of the last 32 bits.
    #[cfg_attr(feature = "serde", serde(rename = "teredo-client"))]
    TeredoClient,
    /// ISATAP, under any /64 (RFC 5214 §6.1): an interface identifier `0:5efe:a.b.c.d` or
    /// `200:5efe:a.b.c.d` (either value of the u and g bits); the last 32 bits.
    #[cfg_attr(feature = "serde", serde(rename = "isatap"))]
    Isatap,
}

impl Encoding {
    /// Every encoding, in the order [`EmbeddedV4::decode`] reports them.
    pub const ALL: [Encoding; 10] = [
        Encoding::Mapped,
        Encoding::Compatible,
        Encoding::Translated,
        Encoding::Nat64WellKnown,
        Encoding::Nat64LocalUse,
        Encoding::Nat64Operator,
        Encoding::SixToFour,
        Encoding::TeredoServer,
        Encoding::TeredoClient,
        Encoding::Isatap,
    ];

    /// The short name: `mapped`, `compatible`, `translated`, `nat64`, `nat64-local`,
    /// `nat64-operator`, `6to4`, `teredo-server`, `teredo-client` or `isatap`.
    ///
    /// ```
    /// assert_eq!(c2trie::policy::Encoding::SixToFour.as_str(), "6to4");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Encoding::Mapped => "mapped",
            Encoding::Compatible => "compatible",
            Encoding::Translated => "translated",
            Encoding::Nat64WellKnown => "nat64",
            Encoding::Nat64LocalUse => "nat64-local",
            Encoding::Nat64Operator => "nat64-operator",
            Encoding::SixToFour => "6to4",
            Encoding::TeredoServer => "teredo-server",
            Encoding::TeredoClient => "teredo-client",
            Encoding::Isatap => "isatap",
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an unknown [`Encoding`] name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseEncodingError(String);

impl fmt::Display for ParseEncodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown encoding {:?} (expected one of ", self.0)?;
        for (i, e) in Encoding::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(e.as_str())?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for ParseEncodingError {}

impl FromStr for Encoding {
    type Err = ParseEncodingError;

    fn from_str(s: &str) -> Result<Encoding, ParseEncodingError> {
        Encoding::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| ParseEncodingError(s.to_owned()))
    }
}

/// The error for an operator NAT64 prefix whose length RFC 6052 does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat64PrefixError(Ipv6Net);

impl fmt::Display for Nat64PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nat64 prefix {} has length {}; RFC 6052 allows 32, 40, 48, 56, 64 or 96",
            self.0,
            self.0.prefix_len()
        )
    }
}

impl std::error::Error for Nat64PrefixError {}

/// Which IPv4-in-IPv6 encodings the policy decodes, and the operator's NAT64 prefixes.
///
/// All encodings are on by default. Turning one off lets that spelling of a listed IPv4
/// address through as long as the IPv6 address itself is not listed, so do it only where the
/// network cannot route it (for example, no Teredo relay).
///
/// # Example
///
/// ```
/// use c2trie::policy::{EmbeddedV4, Encoding};
///
/// let mut e = EmbeddedV4::default().with(Encoding::Compatible, false);
/// e.add_nat64_prefix("2001:db8:64::/96".parse()?)?;
/// let found: Vec<_> = e.decode("2001:db8:64::c000:201".parse()?).collect();
/// assert_eq!(found, [(Encoding::Nat64Operator, "192.0.2.1".parse()?)]);
/// assert!(e.decode("::c000:201".parse()?).next().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbeddedV4 {
    enabled: u16,
    nat64: Vec<Ipv6Net>,
}

impl Default for EmbeddedV4 {
    fn default() -> EmbeddedV4 {
        EmbeddedV4::all()
    }
}

const MAPPED_HI: u128 = 0xffff;
const TRANSLATED_HI: u128 = 0xffff_0000;
const NAT64_WKP_HI: u128 = 0x0064_ff9b_0000_0000_0000_0000;
const NAT64_LOCAL_HI: u128 = 0x0064_ff9b_0001;

impl EmbeddedV4 {
    /// Every encoding on, no operator NAT64 prefix (the default).
    pub fn all() -> EmbeddedV4 {
        EmbeddedV4 {
            enabled: Encoding::ALL.iter().fold(0, |m, e| m | e.bit()),
            nat64: Vec::new(),
        }
    }

    /// Every encoding off: IPv6 addresses are decided as IPv6 only.
    pub fn none() -> EmbeddedV4 {
        EmbeddedV4 {
            enabled: 0,
            nat64: Vec::new(),
        }
    }

    /// Turns `encoding` on or off.
    pub fn set(&mut self, encoding: Encoding, on: bool) -> &mut EmbeddedV4 {
        if on {
            self.enabled |= encoding.bit();
        } else {
            self.enabled &= !encoding.bit();
        }
        self
    }

    /// [`EmbeddedV4::set`], by value.
    pub fn with(mut self, encoding: Encoding, on: bool) -> EmbeddedV4 {
        self.set(encoding, on);
        self
    }

    /// Whether `encoding` is on.
    pub fn is_enabled(&self, encoding: Encoding) -> bool {
        self.enabled & encoding.bit() != 0
    }

    /// Adds an operator NAT64 prefix (decoded when [`Encoding::Nat64Operator`] is on). Host
    /// bits are cleared; a prefix already present is not added twice.
    ///
    /// # Errors
    ///
    /// [`Nat64PrefixError`] when the length is not 32, 40, 48, 56, 64 or 96 (RFC 6052 §2.2).
    pub fn add_nat64_prefix(&mut self, prefix: Ipv6Net) -> Result<(), Nat64PrefixError> {
        if !matches!(prefix.prefix_len(), 32 | 40 | 48 | 56 | 64 | 96) {
            return Err(Nat64PrefixError(prefix));
        }
        let prefix = prefix.trunc();
        if !self.nat64.contains(&prefix) {
            self.nat64.push(prefix);
        }
        Ok(())
    }

    /// The operator NAT64 prefixes.
    pub fn nat64_prefixes(&self) -> &[Ipv6Net] {
        &self.nat64
    }

    /// False only when [`EmbeddedV4::decode`] yields nothing for `addr`: no encoding is
    /// on, or `addr` lies in none of the ranges an encoding reads (`::/16`, which holds the
    /// mapped, compatible and translated forms; `64::/16`, which holds both NAT64 prefixes
    /// of RFC 6052 and RFC 8215; 6to4's `2002::/16`; Teredo's `2001::/32`) and has no
    /// ISATAP interface identifier, and there is no operator NAT64 prefix. One test for the
    /// nearly every IPv6 address that embeds nothing, where `decode` checks each encoding.
    #[inline]
    fn may_embed(&self, addr: Ipv6Addr) -> bool {
        let a = u128::from(addr);
        let top = (a >> 112) as u16;
        self.enabled != 0
            && (matches!(top, 0 | 0x0064 | 0x2002)
                || a >> 96 == 0x2001_0000
                || ((a as u64) >> 32) & !0x0300_0000 == 0x5efe
                || !self.nat64.is_empty())
    }

    /// Every IPv4 address `addr` embeds under the enabled encodings, in [`Encoding::ALL`]
    /// order (operator prefixes in the order they were added). Does not allocate.
    ///
    /// A Teredo address yields two addresses (server and client). The "u" octet of RFC 6052
    /// addresses is not required to be zero: a translator that ignores it would still reach
    /// the embedded address.
    pub fn decode(&self, addr: Ipv6Addr) -> impl Iterator<Item = (Encoding, Ipv4Addr)> + '_ {
        let a = u128::from(addr);
        let low = Ipv4Addr::from(a as u32);
        let on = |e: Encoding| self.is_enabled(e);
        let head = [
            (on(Encoding::Mapped) && a >> 32 == MAPPED_HI).then_some((Encoding::Mapped, low)),
            (on(Encoding::Compatible) && a >> 32 == 0 && a > 1)
                .then_some((Encoding::Compatible, low)),
            (on(Encoding::Translated) && a >> 32 == TRANSLATED_HI)
                .then_some((Encoding::Translated, low)),
            (on(Encoding::Nat64WellKnown) && a >> 32 == NAT64_WKP_HI)
                .then_some((Encoding::Nat64WellKnown, low)),
            (on(Encoding::Nat64LocalUse) && a >> 80 == NAT64_LOCAL_HI)
                .then(|| rfc6052(a, 48).map(|v| (Encoding::Nat64LocalUse, v)))
                .flatten(),
        ];
        let operator = on(Encoding::Nat64Operator);
        let nat64 = self
            .nat64
            .iter()
            .filter(move |p| operator && p.contains(&addr))
            .filter_map(move |p| rfc6052(a, p.prefix_len()).map(|v| (Encoding::Nat64Operator, v)));
        let teredo = a >> 96 == 0x2001_0000;
        let tail = [
            (on(Encoding::SixToFour) && a >> 112 == 0x2002)
                .then(|| (Encoding::SixToFour, Ipv4Addr::from((a >> 80) as u32))),
            (on(Encoding::TeredoServer) && teredo)
                .then(|| (Encoding::TeredoServer, Ipv4Addr::from((a >> 64) as u32))),
            (on(Encoding::TeredoClient) && teredo)
                .then(|| (Encoding::TeredoClient, Ipv4Addr::from(!(a as u32)))),
            // The interface identifier's first octet may carry the u and g bits.
            (on(Encoding::Isatap) && ((a as u64) >> 32) & !0x0300_0000 == 0x5efe)
                .then_some((Encoding::Isatap, low)),
        ];
        head.into_iter()
            .flatten()
            .chain(nat64)
            .chain(tail.into_iter().flatten())
    }
}

/// The IPv4 address in `a` under the RFC 6052 §2.2 format for a prefix of `len` bits.
fn rfc6052(a: u128, len: u8) -> Option<Ipv4Addr> {
    let b = a.to_be_bytes();
    let v = match len {
        32 => [b[4], b[5], b[6], b[7]],
        40 => [b[5], b[6], b[7], b[9]],
        48 => [b[6], b[7], b[9], b[10]],
        56 => [b[7], b[9], b[10], b[11]],
        64 => [b[9], b[10], b[11], b[12]],
        96 => [b[12], b[13], b[14], b[15]],
        _ => return None,
    };
    Some(Ipv4Addr::from(v))
}

/// The run-time policy: a mode for the blocked and global lists (the approved list always
/// allows) and the IPv4-in-IPv6 encodings to decode. See the [module docs](self) for the
/// precedence table.
///
/// The default is the seed product's first version: global list log-only, blocked list
/// blocking, every encoding decoded.
///
/// # Example
///
/// ```
/// use c2trie::{Compiler, List, Meta, Mode, Policy, Table, Verdict};
///
/// let mut c = Compiler::new();
/// c.add(List::Global, "198.51.100.0/24".parse()?, "vendor", Meta::tagged("botnet"))?;
/// c.add(List::Approved, "198.51.100.7/32".parse()?, "user", Meta::default())?;
/// let table = Table::from_bytes(c.to_vec()?)?;
///
/// let mut policy = Policy::default();
/// assert_eq!(policy.decide(&table, "198.51.100.1".parse()?).verdict(), Verdict::Log);
/// policy.global = Mode::Block;
/// let d = policy.decide(&table, "::ffff:198.51.100.1".parse()?);
/// assert_eq!(d.verdict(), Verdict::Block);
/// assert_eq!(d.tag(), Some("botnet"));
/// assert_eq!(policy.decide(&table, "198.51.100.7".parse()?).verdict(), Verdict::Allow);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Configuration (feature `serde`)
///
/// A policy serializes to a map with the keys `global` and `blocked` (a [`Mode`]: `off`,
/// `log` or `block`; `log-only` is read as `log`) and `embedded` (see [`EmbeddedV4`]'s
/// serde impls: the enabled [`Encoding`] names and the NAT64 prefixes). A missing key takes
/// its [default](Policy::default); an unknown key is an error, so a misspelt setting is
/// not silently ignored.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use c2trie::{Mode, Policy};
/// use c2trie::policy::Encoding;
///
/// let config = r#"{
///     "global": "block",
///     "embedded": {
///         "encodings": ["mapped", "nat64", "nat64-operator", "6to4"],
///         "nat64_prefixes": ["2001:db8:64::/96"]
///     }
/// }"#;
/// let p: Policy = serde_json::from_str(config).unwrap();
/// assert_eq!((p.global, p.blocked), (Mode::Block, Mode::Block));
/// assert!(p.embedded.is_enabled(Encoding::SixToFour));
/// assert!(!p.embedded.is_enabled(Encoding::TeredoClient));
/// assert_eq!(p.embedded.nat64_prefixes(), ["2001:db8:64::/96".parse().unwrap()]);
///
/// assert!(serde_json::from_str::<Policy>(r#"{"globl": "block"}"#).is_err());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Policy {
    /// The mode of the vendor's global C&C list. Default [`Mode::LogOnly`].
    pub global: Mode,
    /// The mode of the user's blocked list. Default [`Mode::Block`].
    pub blocked: Mode,
    /// The IPv4-in-IPv6 encodings decoded. Default: all.
    pub embedded: EmbeddedV4,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            global: Mode::LogOnly,
            blocked: Mode::Block,
            embedded: EmbeddedV4::all(),
        }
    }
}

impl Policy {
    /// A policy with the given modes and every encoding decoded.
    ///
    /// ```
    /// use c2trie::{Mode, Policy};
    /// let p = Policy::new(Mode::Block, Mode::Block);
    /// assert_eq!(p.global, Mode::Block);
    /// ```
    pub fn new(global: Mode, blocked: Mode) -> Policy {
        Policy {
            global,
            blocked,
            embedded: EmbeddedV4::all(),
        }
    }

    /// Decides `addr` against `table`: the precedence table for the address itself and, for
    /// an IPv6 address, for every IPv4 address it embeds; the most severe decision wins
    /// (see the [module docs](self)). Never panics; allocates nothing.
    pub fn decide<'t>(&self, table: &'t Table, addr: IpAddr) -> Decision<'t> {
        self.decide_from(table, table.lookup(addr))
    }

    /// [`Policy::decide`] for many IPv4 addresses, calling `f` with each address's
    /// decision in order. The lookups go through [`Table::lookup_v4_each`], interleaved so
    /// that their memory accesses overlap (and, like it, take about 3 KiB of stack); the
    /// decisions are those [`Policy::decide`] makes, address by address. Never panics;
    /// allocates nothing.
    ///
    /// ```
    /// use c2trie::{Compiler, List, Meta, Mode, Policy, Table, Verdict};
    ///
    /// let mut c = Compiler::new();
    /// c.add(List::Global, "192.0.2.0/24".parse()?, "feed", Meta::default())?;
    /// let table = Table::from_bytes(c.to_vec()?)?;
    ///
    /// let addrs = ["192.0.2.1".parse()?, "198.51.100.1".parse()?];
    /// let mut verdicts = Vec::new();
    /// Policy::new(Mode::Block, Mode::Block).decide_v4_each(&table, &addrs, |d| verdicts.push(d.verdict()));
    /// assert_eq!(verdicts, [Verdict::Block, Verdict::Pass]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decide_v4_each<'t>(
        &self,
        table: &'t Table,
        addrs: &[Ipv4Addr],
        mut f: impl FnMut(Decision<'t>),
    ) {
        table.lookup_v4_each(addrs, |hits| f(self.decide_from(table, hits)));
    }

    /// [`Policy::decide`] for many IPv6 addresses, as [`Policy::decide_v4_each`]: the
    /// IPv6 addresses through [`Table::lookup_v6_each`] (interleaved where the table's
    /// IPv6 lookups walk a trie or per-length tables; a table with prefix groups or the
    /// expansion answers each in turn), then, for each, the IPv4 addresses it embeds,
    /// each looked up singly, as [`Policy::decide`] does. Never panics; allocates nothing.
    pub fn decide_v6_each<'t>(
        &self,
        table: &'t Table,
        addrs: &[Ipv6Addr],
        mut f: impl FnMut(Decision<'t>),
    ) {
        table.lookup_v6_each(addrs, |hits| f(self.decide_from(table, hits)));
    }

    /// The decision for the address `hits` answer: its own, and for an IPv6 address the
    /// most severe of that and its embedded addresses' ([`Policy::decide_embedded`]).
    #[inline]
    fn decide_from<'t>(&self, table: &'t Table, hits: Hits<'t>) -> Decision<'t> {
        let addr = hits.addr();
        let d = self.decide_hits(table, addr, hits, None);
        match addr {
            IpAddr::V4(_) => d,
            IpAddr::V6(v6) => self.decide_embedded(table, v6, d),
        }
    }

    /// The most severe of `own` (the decision for `addr` itself) and the decisions for the
    /// IPv4 addresses `addr` embeds; a tie keeps the earlier.
    #[inline]
    fn decide_embedded<'t>(
        &self,
        table: &'t Table,
        addr: Ipv6Addr,
        own: Decision<'t>,
    ) -> Decision<'t> {
        if !self.embedded.may_embed(addr) {
            return own;
        }
        let mut best = own;
        for (enc, v4) in self.embedded.decode(addr) {
            let v4 = IpAddr::V4(v4);
            let d = self.decide_hits(table, IpAddr::V6(addr), table.lookup(v4), Some(enc));
            if d.verdict.severity() > best.verdict.severity() {
                best = d;
            }
        }
        best
    }

    /// The precedence table for one address: `hits` are the lists' matches for the address
    /// `asked` or, when `via` names an encoding, for the IPv4 address it embeds.
    #[inline(always)]
    fn decide_hits<'t>(
        &self,
        table: &'t Table,
        asked: IpAddr,
        hits: Hits<'t>,
        via: Option<Encoding>,
    ) -> Decision<'t> {
        let addr = hits.addr();
        // Most addresses are on no list: one test of the three matches, where the
        // precedence below would look each list up in turn.
        let (verdict, entry) = if hits.is_empty() {
            (Verdict::Pass, None)
        } else if let Some(e) = hits.get(List::Approved) {
            (Verdict::Allow, Some(e))
        } else if let (Some(v), Some(e)) = (self.blocked.verdict(), hits.get(List::Blocked)) {
            (v, Some(e))
        } else if let (Some(v), Some(e)) = (self.global.verdict(), hits.get(List::Global)) {
            (v, Some(e))
        } else {
            (Verdict::Pass, None)
        };
        Decision {
            verdict,
            addr: asked,
            matched: addr,
            via,
            entry,
            list_version: Some(table.list_version()),
            reason: if entry.is_some() {
                Reason::Listed
            } else {
                Reason::Unlisted
            },
        }
    }
}

/// Why a [`Decision`] came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Reason {
    /// An entry decided ([`Decision::entry`]).
    Listed,
    /// No list decided: no entry covers the address, or only lists in [`Mode::Off`] do.
    Unlisted,
    /// No valid table was in service; the verdict is the handle's
    /// fail mode.
    NoTable,
}

/// A verdict and what decided it. Borrows the table it was decided against.
///
/// # Example
///
/// ```
/// use c2trie::{Compiler, List, Meta, Policy, Verdict};
/// use c2trie::policy::Encoding;
///
/// let mut c = Compiler::new();
/// c.list_version(7);
/// c.add(List::Blocked, "192.0.2.0/24".parse()?, "mine", Meta::tagged("c2"))?;
/// let table = c2trie::Table::from_bytes(c.to_vec()?)?;
///
/// let d = Policy::default().decide(&table, "64:ff9b::192.0.2.9".parse()?);
/// assert_eq!(d.verdict(), Verdict::Block);
/// assert_eq!(d.list(), Some(List::Blocked));
/// assert_eq!(d.prefix().map(|p| p.to_string()).as_deref(), Some("192.0.2.0/24"));
/// assert_eq!(d.via(), Some(Encoding::Nat64WellKnown));
/// assert_eq!(d.matched_addr().to_string(), "192.0.2.9");
/// assert_eq!(d.list_version(), Some(7));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision<'t> {
    verdict: Verdict,
    addr: IpAddr,
    matched: IpAddr,
    via: Option<Encoding>,
    entry: Option<EntryRef<'t>>,
    list_version: Option<u64>,
    reason: Reason,
}

impl<'t> Decision<'t> {
    /// The decision made when no valid table is in service.
    pub(crate) fn no_table(addr: IpAddr, verdict: Verdict) -> Decision<'static> {
        Decision {
            verdict,
            addr,
            matched: addr,
            via: None,
            entry: None,
            list_version: None,
            reason: Reason::NoTable,
        }
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Why the verdict came out as it did.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The address that was decided, as given.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The address whose lookup decided: [`Decision::addr`] itself, or the IPv4 address it
    /// embeds when [`Decision::via`] is `Some`.
    pub fn matched_addr(&self) -> IpAddr {
        self.matched
    }

    /// The encoding through which the embedded IPv4 address decided, if one did.
    pub fn via(&self) -> Option<Encoding> {
        self.via
    }

    /// The deciding entry; `None` for [`Verdict::Pass`] and when no table was in service.
    pub fn entry(&self) -> Option<EntryRef<'t>> {
        self.entry
    }

    /// The deciding entry's list.
    pub fn list(&self) -> Option<List> {
        self.entry.map(|e| e.list())
    }

    /// The deciding entry's prefix (that list's longest match).
    pub fn prefix(&self) -> Option<IpNet> {
        self.entry.map(|e| e.prefix())
    }

    /// The deciding entry's source (feed name).
    pub fn source(&self) -> Option<&'t str> {
        self.entry.map(|e| e.source())
    }

    /// The deciding entry's tag.
    pub fn tag(&self) -> Option<&'t str> {
        self.entry.and_then(|e| e.tag())
    }

    /// The deciding entry's risk score.
    pub fn risk(&self) -> Option<u8> {
        self.entry.and_then(|e| e.risk())
    }

    /// The `list_version` of the table decided against; `None` when no table was in
    /// service.
    pub fn list_version(&self) -> Option<u64> {
        self.list_version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Compiler, Meta};

    fn table(entries: &[(List, &str, &str)]) -> Table {
        let mut c = Compiler::new();
        // The rows use private and broad ranges on purpose: the policy, not the guards.
        c.list_version(42)
            .created_unix(0)
            .limits(crate::compile::Limits::none());
        for (list, net, tag) in entries {
            c.add(*list, net.parse().unwrap(), "test", Meta::tagged(*tag))
                .unwrap();
        }
        Table::from_bytes(c.to_vec().unwrap()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A table where 10.1.1.1 is covered by all three lists (approved only broadly), 10.2.2.2
    /// by blocked and global, 10.3.3.3 by global only, 10.4.4.4 by nothing.
    fn precedence_table() -> Table {
        table(&[
            (List::Approved, "10.1.0.0/16", "ok"),
            (List::Blocked, "10.1.1.0/24", "b1"),
            (List::Global, "10.1.1.1/32", "g1"),
            (List::Blocked, "10.2.2.0/24", "b2"),
            (List::Global, "10.2.2.2/32", "g2"),
            (List::Global, "10.3.0.0/16", "g3"),
        ])
    }

    const ALL_MODES: [Mode; 3] = Mode::ALL;

    #[test]
    fn row_approved_wins_over_everything_however_broad() {
        let t = precedence_table();
        for global in ALL_MODES {
            for blocked in ALL_MODES {
                let d = Policy::new(global, blocked).decide(&t, ip("10.1.1.1"));
                assert_eq!(d.verdict(), Verdict::Allow, "{global} {blocked}");
                assert_eq!(d.list(), Some(List::Approved));
                assert_eq!(d.tag(), Some("ok"));
                assert_eq!(d.prefix(), Some("10.1.0.0/16".parse().unwrap()));
            }
        }
    }

    #[test]
    fn row_blocked_block_wins_over_global() {
        let t = precedence_table();
        for global in ALL_MODES {
            let d = Policy::new(global, Mode::Block).decide(&t, ip("10.2.2.2"));
            assert_eq!(d.verdict(), Verdict::Block);
            assert_eq!(d.list(), Some(List::Blocked));
            assert_eq!(d.tag(), Some("b2"));
        }
    }

    #[test]
    fn row_blocked_log_decides_even_when_global_blocks() {
        let t = precedence_table();
        for global in ALL_MODES {
            let d = Policy::new(global, Mode::LogOnly).decide(&t, ip("10.2.2.2"));
            assert_eq!(d.verdict(), Verdict::Log);
            assert_eq!(d.list(), Some(List::Blocked));
        }
    }

    #[test]
    fn row_blocked_off_falls_through_to_global_block() {
        let t = precedence_table();
        let d = Policy::new(Mode::Block, Mode::Off).decide(&t, ip("10.2.2.2"));
        assert_eq!(d.verdict(), Verdict::Block);
        assert_eq!(d.list(), Some(List::Global));
        assert_eq!(d.tag(), Some("g2"));
        // And with no blocked entry at all.
        for blocked in ALL_MODES {
            let d = Policy::new(Mode::Block, blocked).decide(&t, ip("10.3.3.3"));
            assert_eq!(d.verdict(), Verdict::Block);
            assert_eq!(d.list(), Some(List::Global));
        }
    }

    #[test]
    fn row_global_log() {
        let t = precedence_table();
        let d = Policy::new(Mode::LogOnly, Mode::Off).decide(&t, ip("10.2.2.2"));
        assert_eq!(d.verdict(), Verdict::Log);
        assert_eq!(d.list(), Some(List::Global));
        for blocked in ALL_MODES {
            let d = Policy::new(Mode::LogOnly, blocked).decide(&t, ip("10.3.3.3"));
            assert_eq!(d.verdict(), Verdict::Log);
            assert_eq!(d.tag(), Some("g3"));
        }
    }

    #[test]
    fn row_nothing_decides_is_pass() {
        let t = precedence_table();
        for blocked in ALL_MODES {
            let d = Policy::new(Mode::Off, blocked).decide(&t, ip("10.3.3.3"));
            assert_eq!(d.verdict(), Verdict::Pass);
            assert_eq!(d.entry(), None);
            assert_eq!(d.reason(), Reason::Unlisted);
        }
        let d = Policy::new(Mode::Off, Mode::Off).decide(&t, ip("10.2.2.2"));
        assert_eq!(d.verdict(), Verdict::Pass);
        for global in ALL_MODES {
            for blocked in ALL_MODES {
                let d = Policy::new(global, blocked).decide(&t, ip("10.4.4.4"));
                assert_eq!(d.verdict(), Verdict::Pass);
                assert_eq!(d.list_version(), Some(42));
            }
        }
    }

    #[test]
    fn default_is_global_log_blocked_block() {
        let p = Policy::default();
        assert_eq!((p.global, p.blocked), (Mode::LogOnly, Mode::Block));
        assert!(Encoding::ALL.iter().all(|e| p.embedded.is_enabled(*e)));
    }

    #[test]
    fn modes_and_verdicts_round_trip_their_cli_spelling() {
        for m in Mode::ALL {
            assert_eq!(m.to_string().parse::<Mode>().unwrap(), m);
        }
        for v in Verdict::ALL {
            assert_eq!(v.to_string().parse::<Verdict>().unwrap(), v);
        }
        for e in Encoding::ALL {
            assert_eq!(e.to_string().parse::<Encoding>().unwrap(), e);
        }
        assert!("Block".parse::<Mode>().is_err());
        assert!("deny".parse::<Verdict>().is_err());
        assert_eq!(Mode::LogOnly.to_string(), "log");
    }

    /// One case per encoding: (encoding, IPv6 spelling of 192.0.2.33).
    fn spellings() -> Vec<(Encoding, &'static str)> {
        vec![
            (Encoding::Mapped, "::ffff:192.0.2.33"),
            (Encoding::Compatible, "::192.0.2.33"),
            (Encoding::Translated, "::ffff:0:192.0.2.33"),
            (Encoding::Nat64WellKnown, "64:ff9b::192.0.2.33"),
            // /48 format: v4 octets 1-2 in bits 48-63, u octet, octets 3-4 in bits 72-87.
            (Encoding::Nat64LocalUse, "64:ff9b:1:c000:2:2100::"),
            (Encoding::SixToFour, "2002:c000:221::1"),
            (Encoding::TeredoServer, "2001:0:c000:221::1"),
            // client = !last 32 bits: !0xc0000221 = 0x3ffffdde
            (
                Encoding::TeredoClient,
                "2001:0:cb00:7101:8000:f227:3fff:fdde",
            ),
            (Encoding::Isatap, "2001:db8:1:2:0:5efe:192.0.2.33"),
            (Encoding::Isatap, "2001:db8:1:2:200:5efe:192.0.2.33"),
        ]
    }

    /// `may_embed` is true wherever `decode` finds an address: random addresses in and
    /// around every encoding's range, with random or ISATAP interface identifiers, under
    /// every single encoding and all of them.
    #[test]
    fn may_embed_holds_wherever_decode_finds_an_address() {
        let bases: [u128; 9] = [
            0,
            0xffff << 32,
            0xffff_0000 << 32,
            0x0064_ff9b << 96,
            0x0064_ff9b_0001 << 80,
            0x2002 << 112,
            0x2001_0000 << 96,
            0x2001_0db8 << 96,
            0x2a00 << 112,
        ];
        let mut r = 7u64;
        let mut next = || {
            r = crate::format::mix64(r);
            u128::from(r)
        };
        let sets: Vec<EmbeddedV4> = Encoding::ALL
            .iter()
            .map(|e| EmbeddedV4::none().with(*e, true))
            .chain([EmbeddedV4::all(), EmbeddedV4::none()])
            .collect();
        let mut found = [0usize; 2];
        for i in 0..20_000u32 {
            let base = bases[i as usize % bases.len()];
            // Random bits below 16 to 120 of the base's, and now and then an ISATAP
            // interface identifier (with its u and g bits in any state).
            let width = 16 + (next() % 105) as u32;
            let mut a = base | (((next() << 64) | next()) >> (128 - width));
            if i % 5 == 0 {
                let iid = [0x5efe_u128, 0x0100_5efe, 0x0200_5efe, 0x0300_5efe][i as usize % 4];
                a = (a & !(0xffff_ffff_u128 << 32)) | (iid << 32);
            }
            let addr = Ipv6Addr::from(a);
            for e in &sets {
                let decoded = e.decode(addr).next().is_some();
                assert!(!decoded || e.may_embed(addr), "{addr} under {e:?}");
                found[usize::from(decoded)] += 1;
            }
        }
        // Both kinds were seen, many times.
        assert!(found[0] > 10_000 && found[1] > 10_000, "{found:?}");
        // And most addresses outside the ranges need no decoding at all.
        let plain = Ipv6Addr::from(0x2a00_1450_4001_0800_0000_0000_0000_200e_u128);
        assert!(!EmbeddedV4::all().may_embed(plain));
    }

    #[test]
    fn each_encoding_is_decided_as_its_ipv4_address_and_can_be_turned_off() {
        let t = table(&[(List::Blocked, "192.0.2.32/28", "c2")]);
        assert_eq!(
            Policy::default().decide(&t, ip("192.0.2.33")).verdict(),
            Verdict::Block
        );
        for (enc, s) in spellings() {
            let mut p = Policy::default();
            let d = p.decide(&t, ip(s));
            assert_eq!(d.verdict(), Verdict::Block, "{enc} {s}");
            assert_eq!(d.via(), Some(enc), "{s}");
            assert_eq!(d.matched_addr(), ip("192.0.2.33"), "{s}");
            assert_eq!(d.addr(), ip(s));
            assert_eq!(d.tag(), Some("c2"));
            p.embedded.set(enc, false);
            assert_eq!(
                p.decide(&t, ip(s)).verdict(),
                Verdict::Pass,
                "{enc} off: {s}"
            );
        }
    }

    /// A batch decides each spelling of a blocked IPv4 address as `decide` does: blocked
    /// through its encoding, though the IPv6 address itself is approved (the most severe
    /// decision wins) or, with the encoding off, approved.
    #[test]
    fn batch_decisions_keep_the_most_severe_of_an_address_and_what_it_embeds() {
        let t = table(&[
            (List::Blocked, "192.0.2.32/28", "c2"),
            (List::Approved, "::/0", "all-v6"),
        ]);
        let (encs, addrs): (Vec<Encoding>, Vec<Ipv6Addr>) = spellings()
            .into_iter()
            .map(|(e, s)| (e, s.parse::<Ipv6Addr>().unwrap()))
            .unzip();
        for off in [
            None,
            Some(Encoding::SixToFour),
            Some(Encoding::TeredoClient),
        ] {
            let mut p = Policy::default();
            if let Some(e) = off {
                p.embedded.set(e, false);
            }
            let mut got = Vec::new();
            p.decide_v6_each(&t, &addrs, |d| got.push(d));
            assert_eq!(got.len(), addrs.len());
            for ((e, a), d) in encs.iter().zip(&addrs).zip(&got) {
                assert_eq!(*d, p.decide(&t, IpAddr::V6(*a)), "{a}");
                if Some(*e) == off {
                    assert_eq!((d.verdict(), d.via()), (Verdict::Allow, None), "{a}");
                } else {
                    assert_eq!((d.verdict(), d.via()), (Verdict::Block, Some(*e)), "{a}");
                }
            }
        }
    }

    #[test]
    fn isatap_needs_its_interface_identifier() {
        for s in [
            "2001:db8::400:5efe:c000:221",
            "2001:db8::5eff:c000:221",
            "2001:db8::1:5efe:c000:221",
        ] {
            let IpAddr::V6(a) = ip(s) else { unreachable!() };
            let only: Vec<_> = EmbeddedV4::none()
                .with(Encoding::Isatap, true)
                .decode(a)
                .collect();
            assert!(only.is_empty(), "{s}: {only:?}");
        }
    }

    #[test]
    fn each_encoding_decodes_exactly_its_address() {
        for (enc, s) in spellings() {
            let IpAddr::V6(a) = ip(s) else { unreachable!() };
            let found: Vec<_> = EmbeddedV4::all().decode(a).collect();
            assert!(
                found.contains(&(enc, "192.0.2.33".parse().unwrap())),
                "{enc} {s}: {found:?}"
            );
            let only: Vec<_> = EmbeddedV4::none().with(enc, true).decode(a).collect();
            assert_eq!(only.len(), 1, "{enc} {s}: {only:?}");
        }
    }

    #[test]
    fn teredo_yields_server_and_client() {
        let a: Ipv6Addr = "2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap();
        // RFC 4380 example: server 65.54.227.120, client 192.0.2.45.
        let found: Vec<_> = EmbeddedV4::all().decode(a).collect();
        assert_eq!(
            found,
            [
                (Encoding::TeredoServer, "65.54.227.120".parse().unwrap()),
                (Encoding::TeredoClient, "192.0.2.45".parse().unwrap()),
            ]
        );
    }

    #[test]
    fn compatible_excludes_unspecified_and_loopback() {
        for s in ["::", "::1"] {
            let IpAddr::V6(a) = ip(s) else { unreachable!() };
            assert_eq!(EmbeddedV4::all().decode(a).count(), 0, "{s}");
        }
        let IpAddr::V6(a) = ip("::2") else {
            unreachable!()
        };
        assert_eq!(
            EmbeddedV4::all().decode(a).collect::<Vec<_>>(),
            [(Encoding::Compatible, "0.0.0.2".parse().unwrap())]
        );
    }

    #[test]
    fn operator_nat64_prefixes_of_every_rfc6052_length() {
        let t = table(&[(List::Global, "192.0.2.33/32", "g")]);
        // RFC 6052 §2.4 examples for 192.0.2.33, one per prefix length.
        let cases = [
            ("2001:db8::/32", "2001:db8:c000:221::"),
            ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
            ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
        ];
        for (pfx, addr) in cases {
            let mut p = Policy::new(Mode::Block, Mode::Block);
            assert_eq!(
                p.decide(&t, ip(addr)).verdict(),
                Verdict::Pass,
                "{pfx} unset"
            );
            p.embedded.add_nat64_prefix(pfx.parse().unwrap()).unwrap();
            let d = p.decide(&t, ip(addr));
            assert_eq!(d.verdict(), Verdict::Block, "{pfx} {addr}");
            assert_eq!(d.via(), Some(Encoding::Nat64Operator));
            p.embedded.set(Encoding::Nat64Operator, false);
            assert_eq!(p.decide(&t, ip(addr)).verdict(), Verdict::Pass, "{pfx} off");
        }
        let mut e = EmbeddedV4::all();
        assert!(
            e.add_nat64_prefix("2001:db8::/33".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn embedded_decision_is_never_weaker_than_the_ipv4_alone() {
        // The IPv6 prefix holding the spellings is approved; the IPv4 address is blocked.
        let t = table(&[
            (List::Approved, "64:ff9b::/96", "nat64-ok"),
            (List::Approved, "2002::/16", "6to4-ok"),
            (List::Blocked, "192.0.2.33/32", "c2"),
            (List::Global, "198.51.100.1/32", "g"),
        ]);
        let p = Policy::default();
        for s in ["64:ff9b::192.0.2.33", "2002:c000:221::"] {
            let d = p.decide(&t, ip(s));
            assert_eq!(d.verdict(), Verdict::Block, "{s}");
            assert_eq!(d.list(), Some(List::Blocked));
        }
        // Global in log mode: Log beats the approval of the IPv6 prefix.
        assert_eq!(
            p.decide(&t, ip("64:ff9b::198.51.100.1")).verdict(),
            Verdict::Log
        );
        // An embedded address that is on no list leaves the IPv6 approval in place.
        let d = p.decide(&t, ip("64:ff9b::203.0.113.5"));
        assert_eq!(d.verdict(), Verdict::Allow);
        assert_eq!(d.via(), None);
    }

    #[test]
    fn embedded_approval_allows_and_ipv6_block_is_kept() {
        let t = table(&[
            (List::Approved, "192.0.2.0/24", "ok"),
            (List::Blocked, "2001::/32", "no-teredo"),
        ]);
        let p = Policy::default();
        let d = p.decide(&t, ip("::ffff:192.0.2.1"));
        assert_eq!(d.verdict(), Verdict::Allow);
        assert_eq!(d.via(), Some(Encoding::Mapped));
        // Teredo server 192.0.2.1 is approved, but the IPv6 address itself is blocked.
        let d = p.decide(&t, ip("2001:0:c000:201::1"));
        assert_eq!(d.verdict(), Verdict::Block);
        assert_eq!(d.via(), None);
        assert_eq!(d.tag(), Some("no-teredo"));
    }

    #[test]
    fn ties_go_to_the_literal_address() {
        let t = table(&[
            (List::Blocked, "64:ff9b::/96", "v6"),
            (List::Blocked, "192.0.2.1/32", "v4"),
        ]);
        let d = Policy::default().decide(&t, ip("64:ff9b::192.0.2.1"));
        assert_eq!(d.verdict(), Verdict::Block);
        assert_eq!(d.tag(), Some("v6"));
        assert_eq!(d.via(), None);
    }
}
