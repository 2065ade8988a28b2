//! Where parsers put their results, and the bookkeeping that keeps the counts honest.

use std::collections::HashSet;

use crate::compile::hash::Keyed;
use crate::entry::{Entry, Meta};

use super::addr::{AddrError, ParsedNet};
use super::{FeedStats, LineError};

/// A parser for one line-oriented format.
///
/// `line` pushes zero or more entries into the sink and returns `Ok(())`, or returns the
/// reason the line is unusable. A line that pushes nothing is counted as skipped; a rejected
/// line's entries are discarded, so a line is never half-accepted.
pub(crate) trait LineParser {
    fn line(&mut self, text: &str, sink: &mut Sink) -> Result<(), String>;
}

/// How many rejected lines a feed keeps a [`LineError`] for; the rest are only counted
/// ([`FeedStats::rejected`]), so a feed of a billion bad lines cannot fill the memory.
pub(crate) const MAX_KEPT_ERRORS: usize = 10_000;

/// Accumulates entries, errors and counts for one feed. A prefix already in the feed is
/// counted as a duplicate and not kept (the first one wins, as in the compiler), so memory
/// follows the distinct entries, not the lines.
#[derive(Debug)]
pub(crate) struct Sink {
    name: String,
    line: u64,
    pub(crate) entries: Vec<Entry>,
    /// The prefixes kept, for the duplicate check: keyed like the compiler's maps, as a
    /// feed of a million lines hashes a million prefixes.
    seen: HashSet<ipnet::IpNet, Keyed>,
    /// The most distinct entries kept; one more sets `over`.
    max_entries: u64,
    pub(crate) over: bool,
    over_line: u64,
    /// The column (CSV: header name or 1-based number) or key (JSON) that holds the
    /// address, when the caller names it ([`FeedOptions::field`](super::FeedOptions)).
    pub(crate) field: Option<String>,
    pub(crate) errors: Vec<LineError>,
    pub(crate) stats: FeedStats,
}

/// The state before a line, to roll back to if the line is rejected.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    entries: usize,
    truncated: u64,
    duplicates: u64,
}

impl Sink {
    pub(crate) fn new(name: &str, max_entries: u64) -> Sink {
        Sink {
            name: name.to_owned(),
            line: 0,
            entries: Vec::new(),
            seen: HashSet::default(),
            max_entries,
            over: false,
            over_line: 0,
            field: None,
            errors: Vec::new(),
            stats: FeedStats::default(),
        }
    }

    /// Starts line (or record) `line`.
    pub(crate) fn begin(&mut self, line: u64) -> Mark {
        self.line = line;
        self.stats.lines += 1;
        Mark {
            entries: self.entries.len(),
            truncated: self.stats.truncated,
            duplicates: self.stats.duplicates,
        }
    }

    /// Finishes the line started with `mark`, counting it as accepted, skipped or rejected.
    pub(crate) fn end(&mut self, mark: Mark, result: Result<(), String>) {
        let produced = self.entries.len() > mark.entries || self.stats.duplicates > mark.duplicates;
        match result {
            Ok(()) if produced => {}
            Ok(()) => self.stats.skipped += 1,
            Err(reason) => {
                for e in self.entries.drain(mark.entries..) {
                    self.seen.remove(&e.net);
                }
                self.stats.truncated = mark.truncated;
                self.stats.duplicates = mark.duplicates;
                self.stats.rejected += 1;
                if self.errors.len() < MAX_KEPT_ERRORS {
                    self.errors.push(LineError {
                        source: self.name.clone(),
                        line: self.line,
                        reason,
                    });
                }
            }
        }
        self.stats.accepted = self.entries.len() as u64;
    }

    /// The line that gave one entry too many.
    pub(crate) fn over_line(&self) -> u64 {
        self.over_line
    }

    /// Adds a parsed prefix.
    pub(crate) fn push(&mut self, p: ParsedNet, meta: Meta) {
        if p.truncated {
            self.stats.truncated += 1;
        }
        self.keep(p.net, meta);
    }

    /// Adds an already canonical prefix (from a range cover).
    pub(crate) fn push_net(&mut self, net: ipnet::IpNet, meta: Meta) {
        self.keep(net.trunc(), meta);
    }

    fn keep(&mut self, net: ipnet::IpNet, meta: Meta) {
        if !self.seen.insert(net) {
            self.stats.duplicates += 1;
            return;
        }
        if self.entries.len() as u64 >= self.max_entries {
            self.seen.remove(&net);
            if !self.over {
                self.over = true;
                self.over_line = self.line;
            }
            return;
        }
        self.entries.push(Entry {
            net,
            line: self.line,
            meta,
        });
    }
}

/// Shortens `s` for use inside an error message.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 60;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}...", &s[..end])
}

/// The reason text for an address that did not parse.
pub(crate) fn bad_addr(token: &str, e: &AddrError) -> String {
    format!("bad address {}: {e}", excerpt(token))
}

/// `s` up to the first of the comment characters, trimmed.
pub(crate) fn strip_comment<'a>(s: &'a str, comment: &[char]) -> &'a str {
    match s.find(comment) {
        Some(i) => s[..i].trim(),
        None => s.trim(),
    }
}
