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
use std::num::ParseFloatError;
use std::num::ParseIntError;

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
}

impl ListLimits {
    /// No limit at all.
    pub const NONE: ListLimits = ListLimits {
        min_prefix_v4: 0,
        min_prefix_v6: 0,
        max_entries: None,
        max_coverage_v4: None,
        max_coverage_v6: None,
    };

    /// The default for the global list: IPv4 prefixes of /8 or longer, IPv6 prefixes of
    /// /16 or longer; no count or coverage limit.
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
}

/// One entry that breaks a limit: which list, which limit, and where the entry came from.
#[derive(Debug, Clone, PartialEq)]
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

/// The error for a limit value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLimitError(String);

impl fmt::Display for ParseLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseLimitError {}

impl From<ParseIntError> for ParseLimitError {
    fn from(e: ParseIntError) -> ParseLimitError {
        ParseLimitError(e.to_string())
    }
}

impl From<ParseFloatError> for ParseLimitError {
    fn from(e: ParseFloatError) -> ParseLimitError {
        ParseLimitError(e.to_string())
    }
}

/// Parses a coverage share: `25%`, `0.25`, or `none` (no limit).
///
/// # Errors
///
/// [`ParseLimitError`] for anything else or a share outside 0–100 %.
pub fn parse_share(s: &str) -> Result<Option<f64>, ParseLimitError> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let share = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>()? / 100.0,
        None => s.parse::<f64>()?,
    };
    if !(0.0..=1.0).contains(&share) {
        return Err(ParseLimitError(format!(
            "coverage {s:?} is not between 0% and 100%"
        )));
    }
    Ok(Some(share))
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
        let (fam, len) = match e.net {
            IpNet::V4(n) => {
                if n.prefix_len() < lim.min_prefix_v4 {
                    breaches.push(e.breach(LimitKind::MinPrefixV4(lim.min_prefix_v4)));
                }
                if lim.max_coverage_v4.is_some() {
                    v4[i].push((u32::from(n.network()), u32::from(n.broadcast())));
                }
                (0, n.prefix_len())
            }
            IpNet::V6(n) => {
                if n.prefix_len() < lim.min_prefix_v6 {
                    breaches.push(e.breach(LimitKind::MinPrefixV6(lim.min_prefix_v6)));
                }
                if lim.max_coverage_v6.is_some() {
                    v6[i].push((u128::from(n.network()), u128::from(n.broadcast())));
                }
                (1, n.prefix_len())
            }
        };
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
