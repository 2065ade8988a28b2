//! Feed ingestion: the text formats operators download, turned into [`Entry`] values.
//!
//! Every parser is line-oriented and reports each line it cannot use as a [`LineError`]
//! (`file:line: reason`); a bad line never costs a good one. Addresses are parsed strictly
//! ([`parse_addr`], [`parse_net`]): no octal or zero-padded octets, no shortened IPv4
//! (`1.2.3`), no hexadecimal, no zone ids. Host bits set under a prefix length are cleared and
//! counted in [`FeedStats::truncated`].
//!
//! | [`Format`] | what it reads | metadata |
//! |---|---|---|
//! | `plain` | one IP, CIDR, `IP/dotted-mask` or range `a-b` a line; `#`/`;` comments | none |
//! | `feodo-csv` | abuse.ch Feodo Tracker CSV (quoted fields, header row, `# END` trailer) | tag = malware family |
//! | `drop` | Spamhaus DROP / EDROP / DROPv6 (`prefix ; SBLnnn`) | tag = SBL id |
//! | `ipsum` | stamparm ipsum (`ip<TAB>count`) | risk = min(100, count × 10) |
//! | `netset` | FireHOL `.netset` / `.ipset` | none |
//! | `asn-table` | `prefix<TAB>ASN` tables with `;` headers (pyasn) | tag = `AS<n>` |
//! | `csv` | generic CSV/TSV; the address column is found from the header or the data | tag = a description column |
//! | `json` | a JSON array (or JSON Lines) of entries (feature `serde`) | tag, risk, expires |
//!
//! [`Format::Auto`] detects the format from the content ([`detect`]). Gzip input is
//! recognized by its magic bytes and decompressed (feature `gzip`).
//!
//! Every line read is counted in [`FeedStats`] as exactly one of: producing entries,
//! [`skipped`](FeedStats::skipped) or [`rejected`](FeedStats::rejected).
//! [`accepted`](FeedStats::accepted) counts entries, not lines: a range line yields its whole
//! minimal prefix cover ([`range_to_cidrs`]), every entry with that line's number.

use std::fmt;

use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use crate::entry::Entry;

mod addr;
mod asn;
mod csv;
mod detect;
mod drop;
mod feodo;
mod input;
mod ipsum;
#[cfg(feature = "serde")]
mod json;
mod netset;
mod plain;
mod sink;

pub use addr::{AddrError, ParsedNet, parse_addr, parse_net, range_to_cidrs};
pub use detect::detect;

use input::{LineReader, RawLine, Source};
use sink::{LineParser, Sink};

/// What went wrong with a whole feed ([`FeedError::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedErrorKind {
    /// Reading the input failed (this includes a corrupt gzip stream); the I/O error is
    /// [`FeedError::io_error`].
    Io,
    /// The input (after decompression) is larger than
    /// [`FeedOptions::max_input_bytes`].
    TooLarge {
        /// The limit that was passed, in bytes.
        limit: u64,
    },
    /// The input is not text: it has a NUL byte in its first few KiB.
    Binary {
        /// The offset of the first NUL byte.
        offset: u64,
    },
    /// The feed gives more distinct entries than [`FeedOptions::max_entries`].
    TooManyEntries {
        /// The limit that was passed.
        limit: u64,
        /// The line (or record) that gave one too many.
        line: u64,
    },
    /// The input needs a cargo feature that this build does not have.
    FeatureRequired {
        /// The cargo feature: `gzip` or `serde`.
        feature: &'static str,
        /// What needs it: `gzip input` or `json input`.
        what: &'static str,
    },
}

/// The error for a whole feed that cannot be read at all (as opposed to a bad line).
///
/// Like every error of the crate, its `Display` is the whole message, cause included, and
/// [`source`](std::error::Error::source) is `None`; [`FeedError::kind`] and
/// [`FeedError::io_error`] give the parts.
#[derive(Debug)]
pub struct FeedError {
    kind: FeedErrorKind,
    io: Option<std::io::Error>,
}

impl FeedError {
    pub(crate) fn new(kind: FeedErrorKind) -> FeedError {
        FeedError { kind, io: None }
    }

    /// What went wrong.
    pub fn kind(&self) -> FeedErrorKind {
        self.kind
    }

    /// For [`FeedErrorKind::Io`], the I/O error.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        self.io.as_ref()
    }
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FeedErrorKind::Io => match &self.io {
                Some(e) => write!(f, "i/o error: {e}"),
                None => f.write_str("i/o error"),
            },
            FeedErrorKind::TooLarge { limit } => {
                write!(f, "input larger than the limit of {limit} bytes")
            }
            FeedErrorKind::TooManyEntries { limit, line } => {
                write!(f, "line {line}: more than {limit} distinct entries")
            }
            FeedErrorKind::Binary { offset } => {
                write!(f, "input is binary, not text (nul byte at offset {offset})")
            }
            FeedErrorKind::FeatureRequired { feature, what } => {
                write!(f, "{what} needs c2trie built with the `{feature}` feature")
            }
        }
    }
}

impl std::error::Error for FeedError {}

impl From<std::io::Error> for FeedError {
    fn from(e: std::io::Error) -> FeedError {
        FeedError {
            kind: FeedErrorKind::Io,
            io: Some(e),
        }
    }
}

/// One line of a feed that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct FeedStats {
    /// Lines read. For JSON, records read (see [`Format::Json`]).
    pub lines: u64,
    /// Entries kept: the length of [`Feed::entries`]. A line that produces entries counts
    /// once in `lines` but adds each of its new entries here (a range `a-b` can produce
    /// several) and each repeated one to `duplicates`, so
    /// `lines == rejected + skipped + (lines that produced entries)`.
    pub accepted: u64,
    /// Entries whose host bits were set and have been cleared.
    pub truncated: u64,
    /// Lines rejected (each has a [`LineError`]).
    pub rejected: u64,
    /// Lines skipped on purpose: blank lines, comments, header rows, trailers.
    pub skipped: u64,
    /// Entries not kept because an earlier line of the feed gave the same prefix (the
    /// first one wins, its line and metadata kept).
    pub duplicates: u64,
}

/// A parsed feed: its entries, its rejected lines and its counts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Feed {
    /// The feed's name, used as the entries' source.
    pub name: String,
    /// The format it was parsed as (never [`Format::Auto`]).
    pub format: Format,
    /// The accepted entries, in feed order, each prefix once (the first line giving it).
    pub entries: Vec<Entry>,
    /// The rejected lines, the first 10,000 of them ([`FeedStats::rejected`] counts all).
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
    /// JSON entries with metadata (an array or JSON Lines); here a "line" of
    /// [`FeedStats`] is one record, numbered by the line it starts on.
    Json,
}

impl Format {
    /// Every format, [`Format::Auto`] first.
    pub const ALL: [Format; 9] = [
        Format::Auto,
        Format::Plain,
        Format::FeodoCsv,
        Format::Drop,
        Format::Ipsum,
        Format::Netset,
        Format::AsnTable,
        Format::Csv,
        Format::Json,
    ];

    /// The format's name: `auto`, `plain`, `feodo-csv`, `drop`, `ipsum`, `netset`,
    /// `asn-table`, `csv` or `json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Plain => "plain",
            Format::FeodoCsv => "feodo-csv",
            Format::Drop => "drop",
            Format::Ipsum => "ipsum",
            Format::Netset => "netset",
            Format::AsnTable => "asn-table",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a format name that [`Format::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFormatError(String);

impl fmt::Display for ParseFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown feed format {:?} (expected one of: ", self.0)?;
        for (i, format) in Format::ALL.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{format}")?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for ParseFormatError {}

impl FromStr for Format {
    type Err = ParseFormatError;

    /// Parses a name as given by [`Format::as_str`].
    fn from_str(s: &str) -> Result<Format, ParseFormatError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ParseFormatError(s.to_owned()))
    }
}

/// How to read a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedOptions {
    /// The format; [`Format::Auto`] (the default) detects it from the content.
    pub format: Format,
    /// The most input to read, in bytes, counted after decompression; more is
    /// [`FeedErrorKind::TooLarge`]. Default 1 GiB.
    pub max_input_bytes: u64,
    /// The longest line (or JSON record) kept, in bytes, without its line end; a longer one
    /// is a [`LineError`] and is never held in memory whole. Default 64 KiB.
    pub max_line_bytes: usize,
    /// The most distinct entries kept; one more is [`FeedErrorKind::TooManyEntries`], as soon
    /// as it is read. Default: no limit (the input cap bounds it).
    pub max_entries: u64,
    /// The CSV column (a header name, or a 1-based number) or JSON key that holds the
    /// address, overriding the rule that finds it (see [`Format::Csv`], [`Format::Json`]).
    pub field: Option<String>,
}

impl Default for FeedOptions {
    fn default() -> FeedOptions {
        FeedOptions {
            format: Format::Auto,
            max_input_bytes: 1 << 30,
            max_line_bytes: 64 * 1024,
            max_entries: u64::MAX,
            field: None,
        }
    }
}

impl FeedOptions {
    /// The defaults: detect the format, 1 GiB input cap, 64 KiB line cap.
    pub fn new() -> FeedOptions {
        FeedOptions::default()
    }

    /// With `format` instead of detection.
    #[must_use]
    pub fn with_format(mut self, format: Format) -> FeedOptions {
        self.format = format;
        self
    }

    /// With the CSV column or JSON key that holds the address.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> FeedOptions {
        self.field = Some(field.into());
        self
    }

    /// With a cap on distinct entries.
    #[must_use]
    pub fn with_max_entries(mut self, entries: u64) -> FeedOptions {
        self.max_entries = entries;
        self
    }

    /// With a different input cap.
    #[must_use]
    pub fn with_max_input_bytes(mut self, bytes: u64) -> FeedOptions {
        self.max_input_bytes = bytes;
        self
    }

    /// With a different line cap.
    #[must_use]
    pub fn with_max_line_bytes(mut self, bytes: usize) -> FeedOptions {
        self.max_line_bytes = bytes;
        self
    }
}

/// How much of the input is examined for binary content and for format detection.
const SNIFF_LEN: usize = 8 * 1024;

/// Parses a feed held in memory.
///
/// Same as [`parse_reader`] over the bytes.
///
/// # Errors
///
/// As [`parse_reader`]. Bad lines are not errors: they are in [`Feed::errors`].
///
/// # Examples
///
/// ```
/// use c2trie::feed::{parse_bytes, FeedOptions, Format};
///
/// let text = "; Spamhaus DROP\n1.10.16.0/20 ; SBL256894\n1.2.3/8 ; SBL1\n";
/// let feed = parse_bytes("drop.txt", text.as_bytes(), &FeedOptions::default())?;
/// assert_eq!(feed.format, Format::Drop);
/// assert_eq!(feed.entries[0].net.to_string(), "1.10.16.0/20");
/// assert_eq!(feed.entries[0].meta.tag.as_deref(), Some("SBL256894"));
/// assert_eq!(feed.errors[0].to_string(),
///            "drop.txt:3: bad address \"1.2.3/8\": shortened ipv4 address (3 of 4 octets)");
/// assert_eq!((feed.stats.lines, feed.stats.skipped, feed.stats.rejected), (3, 1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_bytes(name: &str, bytes: &[u8], opts: &FeedOptions) -> Result<Feed, FeedError> {
    parse_reader(name, bytes, opts)
}

/// Parses a feed from a reader, streaming.
///
/// Input is read through a fixed buffer; no line is held beyond
/// [`FeedOptions::max_line_bytes`], so a multi-gigabyte line costs no memory (it becomes one
/// [`LineError`]). Gzip input (magic bytes `1f 8b`) is decompressed on the fly when the
/// `gzip` feature is on. The format is detected from the first 8 KiB unless
/// [`FeedOptions::format`] names one. A byte order mark and CRLF line ends are accepted; a
/// line that is not UTF-8 is a [`LineError`].
///
/// # Errors
///
/// - [`FeedErrorKind::Io`] if reading fails (or the gzip stream is corrupt);
/// - [`FeedErrorKind::TooLarge`] once more than [`FeedOptions::max_input_bytes`] have been read
///   (after decompression, so a gzip bomb stops at the cap);
/// - [`FeedErrorKind::Binary`] if the first 8 KiB (after decompression) hold a NUL byte;
/// - [`FeedErrorKind::FeatureRequired`] for gzip input without the `gzip` feature, or JSON
///   without the `serde` feature.
pub fn parse_reader(name: &str, reader: impl Read, opts: &FeedOptions) -> Result<Feed, FeedError> {
    let reader: Box<dyn Read + '_> = Box::new(reader);
    let mut raw = Source::new(reader);
    let head = raw.peek(2)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        #[cfg(feature = "gzip")]
        {
            let inflated: Box<dyn Read + '_> = Box::new(flate2::bufread::MultiGzDecoder::new(raw));
            return parse_text(name, Source::new(inflated), opts);
        }
        #[cfg(not(feature = "gzip"))]
        return Err(FeedError::new(FeedErrorKind::FeatureRequired {
            feature: "gzip",
            what: "gzip input",
        }));
    }
    parse_text(name, raw, opts)
}

/// Reads and parses a feed file; the feed's name is the path as given.
///
/// # Errors
///
/// [`FeedErrorKind::Io`] if the file cannot be opened or read, otherwise as [`parse_reader`].
///
/// # Examples
///
/// ```no_run
/// use c2trie::feed::{read_file, FeedOptions};
///
/// let feed = read_file("ipblocklist.csv", &FeedOptions::default())?;
/// for e in &feed.errors {
///     eprintln!("{e}");
/// }
/// println!("{} entries as {}", feed.entries.len(), feed.format);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_file(path: impl AsRef<Path>, opts: &FeedOptions) -> Result<Feed, FeedError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path)?;
    parse_reader(&path.display().to_string(), file, opts)
}

/// Parses decompressed text: binary check, detection, then the format's parser.
fn parse_text(
    name: &str,
    mut src: Source<Box<dyn Read + '_>>,
    opts: &FeedOptions,
) -> Result<Feed, FeedError> {
    let buffered = src.peek(SNIFF_LEN)?.len();
    // Whether the sniffed bytes are the whole input, so that their last line is complete.
    let complete = src.at_eof() && buffered <= SNIFF_LEN;
    // Already buffered by the call above, so this reads nothing more.
    let head = src.peek(SNIFF_LEN)?;
    let head = &head[..head.len().min(SNIFF_LEN)];
    if let Some(offset) = head.iter().position(|&b| b == 0) {
        return Err(FeedError::new(FeedErrorKind::Binary {
            offset: offset as u64,
        }));
    }
    let format = match opts.format {
        Format::Auto => detect::detect_prefix(head, complete),
        f => f,
    };
    let mut sink = Sink::new(name, opts.max_entries);
    sink.field = opts.field.clone();
    let over = |sink: &Sink| {
        sink.over.then(|| {
            FeedError::new(FeedErrorKind::TooManyEntries {
                limit: opts.max_entries,
                line: sink.over_line(),
            })
        })
    };
    let mut parser: Box<dyn LineParser> = match format {
        Format::Json => {
            #[cfg(feature = "serde")]
            {
                json::parse(src, &mut sink, opts.max_line_bytes, opts.max_input_bytes)?;
                if let Some(e) = over(&sink) {
                    return Err(e);
                }
                return Ok(finish(name, format, sink));
            }
            #[cfg(not(feature = "serde"))]
            return Err(FeedError::new(FeedErrorKind::FeatureRequired {
                feature: "serde",
                what: "json input",
            }));
        }
        Format::Auto | Format::Plain => Box::new(plain::Plain),
        Format::FeodoCsv => Box::new(feodo::Feodo::default()),
        Format::Drop => Box::new(drop::Drop),
        Format::Ipsum => Box::new(ipsum::Ipsum),
        Format::Netset => Box::new(netset::Netset),
        Format::AsnTable => Box::new(asn::AsnTable),
        Format::Csv => Box::new(csv::Csv::default()),
    };
    let format = if format == Format::Auto {
        Format::Plain
    } else {
        format
    };
    let max = opts.max_line_bytes;
    let mut lines = LineReader::new(src, max, opts.max_input_bytes);
    while let Some((number, raw)) = lines.next_line()? {
        let result = match raw {
            RawLine::TooLong => Err(format!("line longer than {max} bytes")),
            RawLine::Text(bytes) => match std::str::from_utf8(bytes) {
                Err(e) => Err(format!("invalid utf-8 at byte {}", e.valid_up_to())),
                Ok(text) if text.contains('\0') => Err("line contains a nul byte".to_owned()),
                Ok(text) => Ok(text),
            },
        };
        let mark = sink.begin(number);
        let result = result.and_then(|text| {
            let text = if number == 1 {
                text.strip_prefix('\u{feff}').unwrap_or(text)
            } else {
                text
            };
            parser.line(text, &mut sink)
        });
        sink.end(mark, result);
        if let Some(e) = over(&sink) {
            return Err(e);
        }
    }
    Ok(finish(name, format, sink))
}

fn finish(name: &str, format: Format, sink: Sink) -> Feed {
    Feed {
        name: name.to_owned(),
        format,
        entries: sink.entries,
        errors: sink.errors,
        stats: sink.stats,
    }
}

/// Parses `text` as `format` under the name `test`, for unit tests.
#[cfg(test)]
pub(crate) fn parse_bytes_as(text: &str, format: Format) -> Feed {
    let opts = FeedOptions::default().with_format(format);
    match parse_bytes("test", text.as_bytes(), &opts) {
        Ok(f) => f,
        Err(e) => panic!("feed error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::io::{self, Read};

    use super::*;

    /// Yields `len` bytes of `fill`, then `tail`, without holding them.
    struct Generated {
        fill: u8,
        left: u64,
        tail: io::Cursor<Vec<u8>>,
    }

    impl Read for Generated {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return self.tail.read(out);
            }
            let n = out
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            out[..n].fill(self.fill);
            self.left -= n as u64;
            Ok(n)
        }
    }

    fn generated(fill: u8, len: u64, tail: &str) -> Generated {
        Generated {
            fill,
            left: len,
            tail: io::Cursor::new(tail.as_bytes().to_vec()),
        }
    }

    fn check_counts(f: &Feed) {
        let producing: BTreeSet<u64> = f.entries.iter().map(|e| e.line).collect();
        assert_eq!(
            f.stats.lines,
            f.stats.rejected + f.stats.skipped + producing.len() as u64
        );
        assert_eq!(f.stats.accepted, f.entries.len() as u64);
        assert_eq!(f.stats.rejected, f.errors.len() as u64);
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "auto",
                "plain",
                "feodo-csv",
                "drop",
                "ipsum",
                "netset",
                "asn-table",
                "csv",
                "json"
            ]
        );
        let err = "xml".parse::<Format>().unwrap_err().to_string();
        assert!(
            err.starts_with("unknown feed format \"xml\" (expected one of: auto, plain"),
            "{err}"
        );
    }

    #[test]
    fn default_options() {
        let o = FeedOptions::default();
        assert_eq!(o.format, Format::Auto);
        assert_eq!(o.max_input_bytes, 1 << 30);
        assert_eq!(o.max_line_bytes, 65_536);
        let o = FeedOptions::new()
            .with_format(Format::Csv)
            .with_max_input_bytes(9)
            .with_max_line_bytes(3);
        assert_eq!(
            (o.format, o.max_input_bytes, o.max_line_bytes),
            (Format::Csv, 9, 3)
        );
    }

    #[test]
    fn bom_crlf_and_no_final_newline() {
        let f = parse_bytes(
            "t",
            b"\xef\xbb\xbf192.0.2.1\r\n192.0.2.2\r\n192.0.2.3",
            &FeedOptions::default(),
        )
        .unwrap();
        assert_eq!(f.format, Format::Plain);
        let nets: Vec<String> = f.entries.iter().map(|e| e.net.to_string()).collect();
        assert_eq!(nets, ["192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"]);
        assert!(f.errors.is_empty());
        check_counts(&f);
        // A byte order mark anywhere but the start is not whitespace.
        let f = parse_bytes(
            "t",
            "192.0.2.1\n\u{feff}192.0.2.2\n".as_bytes(),
            &FeedOptions::default(),
        )
        .unwrap();
        assert_eq!(f.stats.rejected, 1);
    }

    #[test]
    fn gigantic_line_is_rejected_and_parsing_goes_on() {
        let reader = generated(b'a', 10 * 1024 * 1024, "\n192.0.2.1\n");
        let f = parse_reader("big", reader, &FeedOptions::default()).unwrap();
        assert_eq!(f.errors.len(), 1);
        assert_eq!(
            f.errors[0].to_string(),
            "big:1: line longer than 65536 bytes"
        );
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.entries[0].line, 2);
        check_counts(&f);
        // The same without a final newline: one line, rejected.
        let f = parse_reader(
            "big",
            generated(b'a', 10 * 1024 * 1024, ""),
            &FeedOptions::default(),
        )
        .unwrap();
        assert_eq!((f.stats.lines, f.stats.rejected), (1, 1));
    }

    #[test]
    fn gigantic_line_is_not_buffered() {
        let src = input::Source::new(generated(b'a', 200 * 1024 * 1024, "\nx\n"));
        let mut lines = input::LineReader::new(src, 1000, u64::MAX);
        assert!(matches!(
            lines.next_line(),
            Ok(Some((1, input::RawLine::TooLong)))
        ));
        assert!(
            lines.line_capacity() <= 1000 + input::BUF_LEN,
            "{}",
            lines.line_capacity()
        );
    }

    /// Memory follows distinct entries: a feed of one line repeated keeps one entry and
    /// counts the rest; a rejected line's new entries leave the duplicate check too; past
    /// `max_entries` the feed stops with an error; kept line errors are capped.
    #[test]
    fn repeats_are_counted_not_kept() {
        let text = "192.0.2.1\n".repeat(50_000);
        let f = parse_bytes("t", text.as_bytes(), &FeedOptions::default()).unwrap();
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.entries[0].line, 1, "the first wins");
        assert_eq!(f.stats.duplicates, 49_999);
        assert_eq!(f.stats.lines, 50_000);
        assert_eq!(f.stats.skipped, 0);
        assert!(f.entries.capacity() < 1024, "{}", f.entries.capacity());

        // A range line rejected halfway: its entries leave, so a later line keeps them.
        let f = parse_bytes_as("192.0.2.8-192.0.2.9 junk\n192.0.2.8\n", Format::Plain);
        assert_eq!(f.stats.rejected, 1);
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.stats.duplicates, 0);

        let opts = FeedOptions::default().with_max_entries(10);
        let many: String = (0..11).map(|i| format!("192.0.2.{i}\n")).collect();
        let err = parse_bytes("t", many.as_bytes(), &opts).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                FeedErrorKind::TooManyEntries {
                    limit: 10,
                    line: 11
                }
            ),
            "{err}"
        );
        let ok = parse_bytes("t", many.as_bytes()[..many.len() - 11].as_ref(), &opts);
        assert!(ok.is_ok(), "ten are fine");
        let dup_heavy = "192.0.2.1\n".repeat(100);
        assert!(
            parse_bytes("t", dup_heavy.as_bytes(), &opts).is_ok(),
            "repeats are free"
        );

        let bad = "not an address\n".repeat(sink::MAX_KEPT_ERRORS + 5);
        let f = parse_bytes("t", bad.as_bytes(), &FeedOptions::default()).unwrap();
        assert_eq!(f.stats.rejected as usize, sink::MAX_KEPT_ERRORS + 5);
        assert_eq!(f.errors.len(), sink::MAX_KEPT_ERRORS);
    }

    #[test]
    fn input_cap() {
        let opts = FeedOptions::default().with_max_input_bytes(1000);
        let err =
            parse_reader("t", generated(b'1', 0, &"192.0.2.1\n".repeat(101)), &opts).unwrap_err();
        assert!(
            matches!(err.kind(), FeedErrorKind::TooLarge { limit: 1000 }),
            "{err}"
        );
        assert_eq!(err.to_string(), "input larger than the limit of 1000 bytes");
        // Exactly at the cap is fine.
        let ok = parse_bytes("t", "192.0.2.1\n".repeat(100).as_bytes(), &opts).unwrap();
        assert_eq!(ok.entries.len(), 1, "one distinct entry");
        assert_eq!(ok.stats.duplicates, 99);
        // A long line does not escape the cap.
        let err = parse_reader("t", generated(b'a', 5000, ""), &opts).unwrap_err();
        assert!(matches!(err.kind(), FeedErrorKind::TooLarge { .. }));
    }

    #[test]
    fn binary_input() {
        let mut bytes = b"192.0.2.1\n".to_vec();
        bytes.extend_from_slice(&[0x7f, b'E', b'L', b'F', 0, 0, 1]);
        let err = parse_bytes("t", &bytes, &FeedOptions::default()).unwrap_err();
        assert!(
            matches!(err.kind(), FeedErrorKind::Binary { offset: 14 }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "input is binary, not text (nul byte at offset 14)"
        );
        // UTF-16 text is binary too.
        let err = parse_bytes("t", b"\xff\xfe1\x00.\x00", &FeedOptions::default()).unwrap_err();
        assert!(matches!(err.kind(), FeedErrorKind::Binary { .. }));
    }

    #[test]
    fn invalid_utf8_and_late_nul_are_line_errors() {
        let mut bytes = b"192.0.2.1\n19\xff2.0.2.2\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'#', SNIFF_LEN));
        bytes.extend_from_slice(b"\n192.0.2.\x003\n192.0.2.4");
        let f = parse_bytes("t", &bytes, &FeedOptions::default()).unwrap();
        let errs: Vec<String> = f.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errs,
            [
                "t:2: invalid utf-8 at byte 2",
                "t:4: line contains a nul byte"
            ]
        );
        assert_eq!(f.entries.len(), 2);
        check_counts(&f);
    }

    #[test]
    fn explicit_format_overrides_detection() {
        let text = "192.0.2.1\t5\n";
        let auto = parse_bytes("t", text.as_bytes(), &FeedOptions::default()).unwrap();
        assert_eq!(auto.format, Format::Ipsum);
        assert_eq!(auto.entries[0].meta.risk, Some(50));
        let csv = parse_bytes(
            "t",
            text.as_bytes(),
            &FeedOptions::new().with_format(Format::Csv),
        )
        .unwrap();
        assert_eq!(csv.format, Format::Csv);
        assert_eq!(csv.entries[0].meta.risk, None);
        let plain = parse_bytes(
            "t",
            text.as_bytes(),
            &FeedOptions::new().with_format(Format::Plain),
        )
        .unwrap();
        assert_eq!((plain.format, plain.stats.rejected), (Format::Plain, 1));
    }

    #[test]
    fn counts_hold_across_formats() {
        let cases: &[(&str, Format)] = &[
            (
                "# c\n192.0.2.0-192.0.2.9\n\nbad\n10.0.0.0/8\n",
                Format::Plain,
            ),
            ("; h\n1.2.3.0/24 ; SBL1\nx ; SBL2\n", Format::Drop),
            ("ip,desc\n192.0.2.1,a\n,\n", Format::Csv),
        ];
        for (text, format) in cases {
            let f = parse_bytes(
                "t",
                text.as_bytes(),
                &FeedOptions::new().with_format(*format),
            )
            .unwrap();
            check_counts(&f);
            assert!(f.stats.rejected > 0 && f.stats.skipped > 0 && f.stats.accepted > 0);
        }
        let f = parse_bytes_as("192.0.2.0-192.0.2.9\n", Format::Plain);
        assert_eq!((f.stats.lines, f.stats.accepted), (1, 2));
    }

    #[test]
    fn read_file_names_the_feed_by_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "192.0.2.1\nbad\n").unwrap();
        let f = read_file(&path, &FeedOptions::default()).unwrap();
        assert_eq!(f.name, path.display().to_string());
        assert_eq!(
            f.errors[0].to_string(),
            format!(
                "{}:2: bad address \"bad\": not an ip address",
                path.display()
            )
        );
        let missing = read_file(dir.path().join("nope"), &FeedOptions::default()).unwrap_err();
        assert_eq!(missing.kind(), FeedErrorKind::Io);
        assert!(missing.io_error().is_some());
    }

    #[cfg(not(feature = "gzip"))]
    #[test]
    fn gzip_needs_the_feature() {
        let err = parse_bytes("t", &[0x1f, 0x8b, 8, 0], &FeedOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gzip input needs c2trie built with the `gzip` feature"
        );
    }

    #[cfg(not(feature = "serde"))]
    #[test]
    fn json_needs_the_feature() {
        let err =
            parse_bytes("t", b"[{\"ip\":\"192.0.2.1\"}]", &FeedOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "json input needs c2trie built with the `serde` feature"
        );
    }

    #[cfg(feature = "gzip")]
    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn gzip_is_decompressed_and_detected() {
        let text = "; IP-ASN32-DAT file\n; \n1.0.0.0/24\t15169\n2001:db8::/32\t64496\n";
        let f = parse_bytes("t.gz", &gzip(text.as_bytes()), &FeedOptions::default()).unwrap();
        assert_eq!(f.format, Format::AsnTable);
        assert_eq!(f.entries.len(), 2);
        // Concatenated members (as `cat a.gz b.gz` makes) are read whole.
        let mut two = gzip(b"192.0.2.1\n");
        two.extend(gzip(b"192.0.2.2\n"));
        let f = parse_bytes("t.gz", &two, &FeedOptions::default()).unwrap();
        assert_eq!(f.entries.len(), 2);
        // A corrupt stream is an i/o error.
        let mut bad = gzip(text.as_bytes());
        let n = bad.len();
        bad[n / 2..].fill(0xa5);
        assert!(matches!(
            parse_bytes("t.gz", &bad, &FeedOptions::default()).map_err(|e| e.kind()),
            Err(FeedErrorKind::Io)
        ));
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn gzip_bomb_stops_at_the_cap() {
        // 64 MiB of addresses as 64 gzip members of 1 MiB each: well under 1 MiB packed.
        let line = b"192.0.2.1\n";
        let member = gzip(
            &line
                .iter()
                .copied()
                .cycle()
                .take(1 << 20)
                .collect::<Vec<u8>>(),
        );
        let packed = member.repeat(64);
        assert!(packed.len() < 1 << 20);
        let opts = FeedOptions::default().with_max_input_bytes(2 << 20);
        let err = parse_bytes("bomb.gz", &packed, &opts).unwrap_err();
        assert!(
            matches!(err.kind(), FeedErrorKind::TooLarge { limit } if limit == 2 << 20),
            "{err}"
        );
    }
}
