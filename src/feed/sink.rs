//! Where parsers put their results, and the bookkeeping that keeps the counts honest.

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

/// Accumulates entries, errors and counts for one feed.
#[derive(Debug)]
pub(crate) struct Sink {
    name: String,
    line: u64,
    pub(crate) entries: Vec<Entry>,
    pub(crate) errors: Vec<LineError>,
    pub(crate) stats: FeedStats,
}

/// The state before a line, to roll back to if the line is rejected.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    entries: usize,
    truncated: u64,
}

impl Sink {
    pub(crate) fn new(name: &str) -> Sink {
        Sink {
            name: name.to_owned(),
            line: 0,
            entries: Vec::new(),
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
        }
    }

    /// Finishes the line started with `mark`, counting it as accepted, skipped or rejected.
    pub(crate) fn end(&mut self, mark: Mark, result: Result<(), String>) {
        match result {
            Ok(()) if self.entries.len() > mark.entries => {}
            Ok(()) => self.stats.skipped += 1,
            Err(reason) => {
                self.entries.truncate(mark.entries);
                self.stats.truncated = mark.truncated;
                self.stats.rejected += 1;
                self.errors.push(LineError {
                    source: self.name.clone(),
                    line: self.line,
                    reason,
                });
            }
        }
        self.stats.accepted = self.entries.len() as u64;
    }

    /// Adds a parsed prefix.
    pub(crate) fn push(&mut self, p: ParsedNet, meta: Meta) {
        if p.truncated {
            self.stats.truncated += 1;
        }
        self.entries.push(Entry {
            net: p.net,
            line: self.line,
            meta,
        });
    }

    /// Adds an already canonical prefix (from a range cover).
    pub(crate) fn push_net(&mut self, net: ipnet::IpNet, meta: Meta) {
        self.entries.push(Entry {
            net: net.trunc(),
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
