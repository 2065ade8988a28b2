//! Feed ingestion: the text formats operators download, turned into [`Entry`] values.
//!
//! Every parser is line-oriented and reports each line it cannot use as a [`LineError`]
//! (`file:line: reason`); a bad line never costs a good one. Addresses are parsed strictly:
//! no octal or zero-padded octets, no shortened IPv4 (`1.2.3`), no hexadecimal, no zone ids.
//! Host bits set under a prefix length are cleared and counted in [`FeedStats::truncated`].
//!
//! | [`Format`] | what it reads |
//! |---|---|
//! | `plain` | one IP, CIDR, `IP/dotted-mask` or range `a-b` a line; `#`/`;` comments |
//! | `feodo-csv` | abuse.ch Feodo Tracker CSV (quoted fields, header row, `# END` trailer) |
//! | `drop` | Spamhaus DROP / EDROP / DROPv6 (`prefix ; SBLnnn`) |
//! | `ipsum` | stamparm ipsum (`ip<TAB>count`) |
//! | `netset` | FireHOL `.netset` / `.ipset` |
//! | `asn-table` | `prefix<TAB>ASN` tables with `;` headers (pyasn) |
//! | `csv` | generic CSV/TSV; the address column is found from the header or the data |
//! | `json` | a JSON array (or JSON Lines) of entries with tag, risk and expiry (feature `serde`) |
//!
//! [`Format::Auto`] detects the format from the content. Gzip input is recognized by its
//! magic bytes and decompressed (feature `gzip`).

use std::fmt;

use crate::entry::Entry;

mod addr;

pub use addr::{AddrError, ParsedNet, parse_addr, parse_net, range_to_cidrs};

/// The error for a whole feed that cannot be read at all (as opposed to a bad line).
#[derive(Debug)]
#[non_exhaustive]
pub enum FeedError {
    /// Reading the input failed.
    Io(std::io::Error),
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedError::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for FeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FeedError::Io(e) => Some(e),
        }
    }
}

/// One line of a feed that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The feed's name (usually its file name).
    pub source: String,
    /// The 1-based line number.
    pub line: u64,
    /// What was wrong, in lowercase, without a trailing period.
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.reason)
    }
}

impl std::error::Error for LineError {}

/// Counts for one parsed feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FeedStats {
    /// Lines read.
    pub lines: u64,
    /// Entries produced (a range line can produce several).
    pub accepted: u64,
    /// Entries whose host bits were set and have been cleared.
    pub truncated: u64,
    /// Lines rejected (each has a [`LineError`]).
    pub rejected: u64,
    /// Lines skipped on purpose: blank lines, comments, header rows, trailers.
    pub skipped: u64,
}

/// A parsed feed: its entries, its rejected lines and its counts.
#[derive(Debug, Clone)]
pub struct Feed {
    /// The feed's name, used as the entries' source.
    pub name: String,
    /// The format it was parsed as (never [`Format::Auto`]).
    pub format: Format,
    /// The accepted entries, in feed order (duplicates included).
    pub entries: Vec<Entry>,
    /// Every rejected line.
    pub errors: Vec<LineError>,
    /// Counts.
    pub stats: FeedStats,
}

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// Detect from the content.
    #[default]
    Auto,
    /// Plain IP / CIDR / range list.
    Plain,
    /// abuse.ch Feodo Tracker CSV.
    FeodoCsv,
    /// Spamhaus DROP / EDROP / DROPv6.
    Drop,
    /// stamparm ipsum.
    Ipsum,
    /// FireHOL netset.
    Netset,
    /// `prefix<TAB>ASN` table.
    AsnTable,
    /// Generic CSV / TSV.
    Csv,
    /// JSON entries with metadata.
    Json,
}
