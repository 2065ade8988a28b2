//! Entries: one prefix from one feed, with its provenance and metadata.
//!
//! This is what every feed parser yields and what the [`Compiler`](crate::Compiler) consumes.

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;

/// The three lists a table holds.
///
/// The set is complete: the precedence rules of [`Policy`](crate::Policy) are defined over
/// exactly these three lists, so adding one would be a breaking change by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum List {
    /// The user's approved list: an approved entry always allows.
    Approved,
    /// The user's blocked list.
    Blocked,
    /// The vendor's global C&C list.
    Global,
}

impl List {
    /// All lists, in precedence order (approved first).
    pub const ALL: [List; 3] = [List::Approved, List::Blocked, List::Global];

    /// The list's position in [`List::ALL`] (0, 1 or 2); also its code in the file format.
    pub const fn index(self) -> usize {
        match self {
            List::Approved => 0,
            List::Blocked => 1,
            List::Global => 2,
        }
    }

    /// The list with the given [`index`](List::index), if any.
    pub const fn from_index(i: usize) -> Option<List> {
        match i {
            0 => Some(List::Approved),
            1 => Some(List::Blocked),
            2 => Some(List::Global),
            _ => None,
        }
    }

    /// The lowercase name: `approved`, `blocked` or `global`.
    pub const fn as_str(self) -> &'static str {
        match self {
            List::Approved => "approved",
            List::Blocked => "blocked",
            List::Global => "global",
        }
    }
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a list name that is not `approved`, `blocked` or `global`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseListError(String);

impl fmt::Display for ParseListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown list {:?} (expected approved, blocked or global)",
            self.0
        )
    }
}

impl std::error::Error for ParseListError {}

impl FromStr for List {
    type Err = ParseListError;

    fn from_str(s: &str) -> Result<List, ParseListError> {
        match s {
            "approved" => Ok(List::Approved),
            "blocked" => Ok(List::Blocked),
            "global" => Ok(List::Global),
            _ => Err(ParseListError(s.to_owned())),
        }
    }
}

/// Per-entry metadata carried from the feed into the compiled table.
///
/// More fields may come; build one with [`Meta::default`] (or [`Meta::tagged`]) and the
/// `with_` methods, not with a struct expression:
///
/// ```compile_fail,E0639
/// let m = c2trie::Meta { tag: None, risk: None, expires: None };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Meta {
    /// A short label: malware family, SBL id, free-text description, ASN.
    pub tag: Option<String>,
    /// A risk score from 0 to 100.
    pub risk: Option<u8>,
    /// When the entry expires, in seconds since the Unix epoch.
    pub expires: Option<u64>,
}

impl Meta {
    /// The highest risk score an entry may carry.
    pub const MAX_RISK: u8 = 100;

    /// Metadata with only a tag.
    pub fn tagged(tag: impl Into<String>) -> Meta {
        Meta {
            tag: Some(tag.into()),
            ..Meta::default()
        }
    }

    /// This metadata with `tag`.
    ///
    /// ```
    /// use c2trie::Meta;
    /// let m = Meta::default()
    ///     .with_tag("botnet")
    ///     .with_risk(80)
    ///     .with_expires(2_000_000_000);
    /// assert_eq!(m.tag.as_deref(), Some("botnet"));
    /// assert_eq!((m.risk, m.expires), (Some(80), Some(2_000_000_000)));
    /// ```
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Meta {
        self.tag = Some(tag.into());
        self
    }

    /// This metadata with a risk score (0 to [`Meta::MAX_RISK`]; a higher one is refused
    /// when the entry is compiled).
    #[must_use]
    pub fn with_risk(mut self, risk: u8) -> Meta {
        self.risk = Some(risk);
        self
    }

    /// This metadata with an expiry time (seconds since the Unix epoch).
    #[must_use]
    pub fn with_expires(mut self, expires: u64) -> Meta {
        self.expires = Some(expires);
        self
    }
}

/// One prefix parsed from a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The prefix, canonical (host bits cleared).
    pub net: IpNet,
    /// The 1-based line of the feed it came from (0 when it did not come from a text line).
    pub line: u64,
    /// Metadata from the feed.
    pub meta: Meta,
}

impl Entry {
    /// An entry with no metadata; the prefix is canonicalized with [`IpNet::trunc`].
    pub fn new(net: IpNet) -> Entry {
        Entry {
            net: net.trunc(),
            line: 0,
            meta: Meta::default(),
        }
    }
}
