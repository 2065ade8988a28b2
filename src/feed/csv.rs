//! Generic CSV / TSV, and the field splitter shared with the Feodo parser.
//!
//! The delimiter (comma, tab, semicolon or pipe) is sniffed from the first data row. The
//! address column is, in this order:
//!
//! 1. the one the caller names ([`FeedOptions::field`](super::FeedOptions): a header name, or
//!    a 1-based number);
//! 2. from a header row, or a `#` comment header just before the data (as in abuse.ch SSLBL:
//!    `# DstIP,DstPort`): the one column named like a destination (`dst_ip`, `destination`,
//!    `c2_ip`, ...), else the one column named like an address (`ip`, `ip_address`,
//!    `address`, `prefix`, `cidr`, `network`, `host`, `indicator`, ...). A source column
//!    (`src_ip`, `source`, `client_ip`, ...) is never taken: in a connection log it is the
//!    victim, not the C&C;
//! 3. without a header, the one column of the first data row that parses as an address.
//!
//! Two candidates where one is needed is an error on every row, naming them and the
//! override, never a guess.
//!
//! The tag is taken from a column named like a description (`description`, `malware`,
//! `tag`, `family`, `threat`, `comment`, ...). If there is none, a column the header does not
//! name (every column, when there is no header) whose first value is free text becomes the
//! tag column; this is how SSLBL's unnamed third column (`Dridex C&C`) is kept. Other
//! columns are ignored; a row is never rejected for them.
//!
//! Quoting follows RFC 4180 within one line: `"..."` fields, `""` for a quote, delimiters
//! inside quotes. A quoted field spanning lines is not supported (the line is rejected).
//! Lines starting with `#` are comments.

use crate::entry::Meta;

use super::addr::parse_net;
use super::sink::{LineParser, Sink, bad_addr};

/// Delimiters tried when sniffing, in order of preference on a tie.
pub(crate) const DELIMITERS: [char; 4] = [',', '\t', ';', '|'];

/// Header names of a destination address column, preferred over [`ADDR_NAMES`].
pub(crate) const DEST_NAMES: &[&str] = &[
    "dstip",
    "dstaddr",
    "dstaddress",
    "destip",
    "destination",
    "destinationip",
    "destinationaddress",
    "c2",
    "c2ip",
    "c2address",
    "dst",
    "dsthost",
    "daddr",
    "remoteip",
    "remoteaddress",
    "resph",
    "idresph",
];

/// Header names of a source address column: never taken as the address.
pub(crate) const SOURCE_NAMES: &[&str] = &[
    "srcip",
    "srcaddr",
    "srcaddress",
    "source",
    "sourceip",
    "sourceaddress",
    "clientip",
    "victim",
    "victimip",
    "src",
    "srchost",
    "saddr",
    "localip",
    "localaddress",
    "origh",
    "idorigh",
    "client",
    "clientaddress",
    "sender",
    "internalip",
];

/// Header names (lowercase, without `_`, `-` or spaces) of an address column.
pub(crate) const ADDR_NAMES: &[&str] = &[
    "ip",
    "ipaddress",
    "ipaddr",
    "ipv4",
    "ipv6",
    "address",
    "addr",
    "prefix",
    "cidr",
    "network",
    "net",
    "subnet",
    "host",
    "indicator",
    "ioc",
];

/// Header names of a column whose value is a good tag.
const TAG_NAMES: &[&str] = &[
    "description",
    "desc",
    "malware",
    "malwarefamily",
    "family",
    "tag",
    "tags",
    "threat",
    "threattype",
    "category",
    "comment",
    "reason",
    "label",
];

/// Splits one line into fields, RFC 4180 style.
///
/// Unquoted fields are trimmed of spaces and tabs (tabs only when they are not the delimiter).
pub(crate) fn split_fields(line: &str, delim: char) -> Result<Vec<String>, String> {
    let is_pad = |c: char| c == ' ' || (c == '\t' && delim != '\t');
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|&c| is_pad(c)) {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted field".to_owned()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            while chars.peek().is_some_and(|&c| is_pad(c)) {
                chars.next();
            }
            match chars.peek() {
                None => {}
                Some(&c) if c == delim => {}
                Some(_) => return Err("unexpected text after a quoted field".to_owned()),
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == delim {
                    break;
                }
                field.push(c);
                chars.next();
            }
            let kept = field.trim_end_matches(is_pad).len();
            field.truncate(kept);
        }
        fields.push(field);
        match chars.next() {
            Some(_) => continue, // the delimiter
            None => return Ok(fields),
        }
    }
}

/// Counts `delim` outside double quotes.
pub(crate) fn count_unquoted(line: &str, delim: char) -> usize {
    let mut quoted = false;
    line.chars()
        .filter(|&c| {
            if c == '"' {
                quoted = !quoted;
            }
            !quoted && c == delim
        })
        .count()
}

/// The delimiter that occurs most often (outside quotes) in `line`, if any does.
pub(crate) fn sniff_delimiter(line: &str, candidates: &[char]) -> Option<char> {
    let mut best = None;
    let mut best_n = 0;
    for &d in candidates {
        let n = count_unquoted(line, d);
        if n > best_n {
            best = Some(d);
            best_n = n;
        }
    }
    best
}

pub(crate) fn normalize(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a header field names an address column (destination or plain).
pub(crate) fn is_addr_name(name: &str) -> bool {
    let n = normalize(name);
    ADDR_NAMES.contains(&n.as_str()) || DEST_NAMES.contains(&n.as_str())
}

/// The address column among header `names` by the module's rule; `None` when the header
/// names none (the data then decides); the error when it cannot be taken.
fn pick_column(names: &[String], field: Option<&str>) -> Result<Option<usize>, String> {
    if let Some(f) = field {
        if let Ok(n) = f.trim().parse::<usize>() {
            return n
                .checked_sub(1)
                .map(Some)
                .ok_or_else(|| format!("column {f:?}: columns are numbered from 1"));
        }
        return names
            .iter()
            .position(|n| normalize(n) == normalize(f))
            .map(Some)
            .ok_or_else(|| format!("no column named {f:?} (columns: {})", quoted(names)));
    }
    let find = |set: &[&str]| -> Vec<usize> {
        names
            .iter()
            .enumerate()
            .filter(|(_, n)| set.contains(&normalize(n).as_str()))
            .map(|(i, _)| i)
            .collect()
    };
    for set in [DEST_NAMES, ADDR_NAMES] {
        match find(set).as_slice() {
            [] => continue,
            [one] => return Ok(Some(*one)),
            many => {
                let cands: Vec<String> = many.iter().map(|&i| format!("{:?}", names[i])).collect();
                return Err(format!(
                    "ambiguous address column: {}; name one with --field",
                    cands.join(", ")
                ));
            }
        }
    }
    let sources = find(SOURCE_NAMES);
    if let Some(&i) = sources.first() {
        return Err(format!(
            "only a source address column ({}), which is not the C&C side; name the column \
             with --field",
            names[i].escape_debug()
        ));
    }
    Ok(None)
}

/// Header names for a message: quoted and escaped, so a name cannot carry control
/// characters to a terminal.
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_tag_name(name: &str) -> bool {
    TAG_NAMES.contains(&normalize(name).as_str())
}

fn is_addr(field: &str) -> bool {
    parse_net(field.trim()).is_ok()
}

/// Free text: has a letter and is not an address.
fn is_text(field: &str) -> bool {
    field.chars().any(char::is_alphabetic) && !is_addr(field)
}

/// A row that is a header: some field has letters, and no field looks like data: an
/// address or a mistyped one (`1.2.3.x`, `[192.0.2.1]`: a digit beside a `.` or `:`), a
/// bare number (a port), or a `/` (`N/A`, a prefix). A bad first data row
/// is reported as bad, never skipped as a header, even when a tag in it happens to be a
/// column name (`c2`, `host`).
pub(crate) fn is_header(fields: &[String]) -> bool {
    fields.iter().any(|f| is_text(f))
        && !fields
            .iter()
            .any(|f| is_addr(f) || looks_like_addr(f) || is_number(f) || f.contains('/'))
}

/// Whether a header field names an address column, destination, plain or source.
pub(crate) fn names_addr_column(name: &str) -> bool {
    let n = normalize(name);
    [ADDR_NAMES, DEST_NAMES, SOURCE_NAMES]
        .iter()
        .any(|set| set.contains(&n.as_str()))
}

/// A field shaped like an address attempt: a digit, and a `.` or `:`.
fn looks_like_addr(field: &str) -> bool {
    let f = field.trim();
    f.contains(['.', ':']) && f.chars().any(|c| c.is_ascii_digit())
}

/// A bare number, as in a port column.
fn is_number(field: &str) -> bool {
    let f = field.trim();
    !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit())
}

/// The generic CSV parser.
#[derive(Debug, Default)]
pub(crate) struct Csv {
    delim: Option<char>,
    /// Whether the first data row (or header row) has been seen.
    started: bool,
    /// The last comment line before the first row, a candidate header.
    comment_header: Option<String>,
    /// How many columns the header names (0 without a header).
    named: usize,
    addr_col: Option<usize>,
    /// Why no column can be taken (reported on every row, never guessed past).
    refused: Option<String>,
    tag_col: Option<usize>,
    tag_decided: bool,
}

impl Csv {
    fn use_header(&mut self, names: &[String], field: Option<&str>) {
        self.named = names.len();
        match pick_column(names, field) {
            Ok(i) => self.addr_col = i,
            Err(e) => self.refused = Some(e),
        }
        self.tag_col = names.iter().position(|n| is_tag_name(n));
        self.tag_decided = self.tag_col.is_some();
    }

    /// Picks the address column (and tag column) from the first usable data row.
    fn infer(&mut self, fields: &[String], field: Option<&str>) {
        if self.addr_col.is_none() && self.refused.is_none() {
            if let Some(f) = field {
                match pick_column(fields, Some(f)) {
                    Ok(i) => self.addr_col = i,
                    Err(e) => self.refused = Some(e),
                }
            } else {
                let addrs: Vec<usize> =
                    (0..fields.len()).filter(|&i| is_addr(&fields[i])).collect();
                match addrs.as_slice() {
                    [] => {}
                    [one] => self.addr_col = Some(*one),
                    many => {
                        let cols: Vec<String> = many.iter().map(|i| (i + 1).to_string()).collect();
                        self.refused = Some(format!(
                            "ambiguous address column: columns {} all hold addresses and no \
                             header names them; name one with --field",
                            cols.join(", ")
                        ));
                    }
                }
            }
        }
        if let (Some(addr), false) = (self.addr_col, self.tag_decided) {
            self.tag_col = fields
                .iter()
                .enumerate()
                .skip(self.named)
                .find(|&(i, f)| i != addr && is_text(f))
                .map(|(i, _)| i);
            self.tag_decided = true;
        }
    }
}

impl LineParser for Csv {
    fn line(&mut self, text: &str, sink: &mut Sink) -> Result<(), String> {
        let t = text.trim_matches(|c| c == ' ' || c == '\r');
        if t.trim().is_empty() {
            return Ok(());
        }
        if t.starts_with('#') {
            if !self.started {
                self.comment_header = Some(t.trim_start_matches('#').trim().to_owned());
            }
            return Ok(());
        }
        let delim = *self
            .delim
            .get_or_insert_with(|| sniff_delimiter(t, &DELIMITERS).unwrap_or(','));
        let fields = split_fields(t, delim)?;
        let field = sink.field.clone();
        if !self.started {
            self.started = true;
            // A `#` comment just before the data that names an address column (as abuse.ch
            // SSLBL's `# Firstseen,DstIP,DstPort`) is the header; the first row is then
            // data unless it names an address column itself.
            let comment = self
                .comment_header
                .take()
                .and_then(|c| split_fields(&c, delim).ok())
                .filter(|names| names.len() >= 2 && names.iter().any(|n| names_addr_column(n)));
            let own_header = if comment.is_some() {
                is_header(&fields) && fields.iter().any(|f| names_addr_column(f))
            } else {
                is_header(&fields)
            };
            if own_header {
                self.use_header(&fields, field.as_deref());
                return Ok(());
            }
            if let Some(names) = comment {
                self.use_header(&names, field.as_deref());
            }
        }
        if self.addr_col.is_none() || !self.tag_decided {
            self.infer(&fields, field.as_deref());
        }
        if let Some(e) = &self.refused {
            return Err(e.clone());
        }
        let col = self.addr_col.ok_or("no column holds an address")?;
        let field = fields
            .get(col)
            .ok_or_else(|| {
                format!(
                    "row has {} columns, address column is {}",
                    fields.len(),
                    col + 1
                )
            })?
            .trim();
        let p = parse_net(field).map_err(|e| bad_addr(field, &e))?;
        let tag = self
            .tag_col
            .and_then(|i| fields.get(i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        sink.push(
            p,
            Meta {
                tag,
                ..Meta::default()
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{Format, parse_bytes_as};

    fn got(f: &crate::feed::Feed) -> Vec<(String, Option<String>)> {
        f.entries
            .iter()
            .map(|e| (e.net.to_string(), e.meta.tag.clone()))
            .collect()
    }

    fn pair(n: &str, t: Option<&str>) -> (String, Option<String>) {
        (n.to_owned(), t.map(str::to_owned))
    }

    #[test]
    fn splits_rfc4180_fields() {
        assert_eq!(split_fields("a,b,,c", ',').unwrap(), ["a", "b", "", "c"]);
        assert_eq!(
            split_fields("\"a,b\",\"say \"\"hi\"\"\",x", ',').unwrap(),
            ["a,b", "say \"hi\"", "x"]
        );
        assert_eq!(
            split_fields(" a , \"b\" ,c ", ',').unwrap(),
            ["a", "b", "c"]
        );
        assert_eq!(split_fields("a\t b\t", '\t').unwrap(), ["a", "b", ""]);
        assert_eq!(split_fields("", ',').unwrap(), [""]);
        assert_eq!(
            split_fields("\"open,x", ','),
            Err("unterminated quoted field".to_owned())
        );
        assert_eq!(
            split_fields("\"a\"b,x", ','),
            Err("unexpected text after a quoted field".to_owned())
        );
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter("1.2.3.4,80,x", &DELIMITERS), Some(','));
        assert_eq!(sniff_delimiter("1.2.3.4\t80", &DELIMITERS), Some('\t'));
        assert_eq!(sniff_delimiter("1.2.3.4|a,b|c", &DELIMITERS), Some('|'));
        assert_eq!(sniff_delimiter("\"a;b;c\",1.2.3.4", &DELIMITERS), Some(','));
        assert_eq!(sniff_delimiter("1.2.3.4", &DELIMITERS), None);
    }

    #[test]
    fn sslbl_comment_header_with_extra_column() {
        let f = parse_bytes_as(
            "################\n# abuse.ch SSL IPBL #\n#\n# DstIP,DstPort\n\
             104.130.17.100,443,URLzone C&C\n113.53.234.218,448,Dridex C&C\n\
             1.2.3.4,443,\n# Number of entries: 3",
            Format::Csv,
        );
        assert_eq!(
            got(&f),
            [
                pair("104.130.17.100/32", Some("URLzone C&C")),
                pair("113.53.234.218/32", Some("Dridex C&C")),
                pair("1.2.3.4/32", None),
            ]
        );
        assert_eq!((f.stats.skipped, f.stats.rejected), (5, 0));
    }

    #[test]
    fn header_names_columns() {
        let f = parse_bytes_as(
            "id;port;ip_address;Malware Family;country\n1;80;192.0.2.1;Emotet;DE\n\
             2;443;2001:db8::1;;US\n3;80;bogus;X;US\n4;80\n",
            Format::Csv,
        );
        assert_eq!(
            got(&f),
            [
                pair("192.0.2.1/32", Some("Emotet")),
                pair("2001:db8::1/128", None)
            ]
        );
        assert_eq!((f.stats.skipped, f.stats.rejected), (1, 2));
        assert_eq!(f.errors[1].reason, "row has 2 columns, address column is 3");
    }

    #[test]
    fn headerless_tsv_infers_columns() {
        let f = parse_bytes_as(
            "2024-01-01\t198.51.100.0/24\t8080\tcobalt strike\n2024-01-02\t192.0.2.9\t80\t\n",
            Format::Csv,
        );
        assert_eq!(
            got(&f),
            [
                pair("198.51.100.0/24", Some("cobalt strike")),
                pair("192.0.2.9/32", None)
            ]
        );
    }

    /// A mistyped address in the first row is a bad row, reported with its line; it is not
    /// swallowed as a header. A header with a known name and a dotted field stays a header.
    #[test]
    fn bad_first_row_is_reported_not_taken_for_a_header() {
        for first in [
            "1.2.3.x,443,Dridex",
            "2001:db8::g,443,Dridex",
            "192.0.2.300,1,x",
        ] {
            let f = parse_bytes_as(&format!("{first}\n192.0.2.1,443,Dridex\n"), Format::Csv);
            assert_eq!(f.stats.rejected, 1, "{first}");
            assert_eq!(f.errors[0].line, 1, "{first}");
            assert_eq!(got(&f), [pair("192.0.2.1/32", Some("Dridex"))], "{first}");
        }
        let f = parse_bytes_as("ip,version\n192.0.2.1,v1.2\n", Format::Csv);
        assert_eq!((f.stats.rejected, f.entries.len()), (0, 1));
        let f = parse_bytes_as("ip,seen\n192.0.2.1,2024-01-01 10:00\n", Format::Csv);
        assert_eq!((f.stats.rejected, f.entries.len()), (0, 1));
    }

    /// A `#` comment header naming only a source column is refused like a header row; a
    /// bad first row after a comment header (abuse.ch SSLBL) is a bad row, and the comment
    /// header still names the columns; data-like first rows are never headers.
    #[test]
    fn comment_headers_and_data_like_first_rows() {
        let f = parse_bytes_as(
            "# SrcIP,SrcPort,Note\n10.0.0.1,51234,victim\n10.0.0.2,51999,victim\n",
            Format::Csv,
        );
        assert!(f.entries.is_empty());
        assert_eq!(f.stats.rejected, 2);
        assert!(
            f.errors[0].reason.contains("only a source"),
            "{:?}",
            f.errors
        );
        let f = parse_bytes_as(
            "# DstIP,DstPort\nN/A,443,TorrentLocker C&C\n192.0.2.1,443,TorrentLocker C&C\n",
            Format::Csv,
        );
        assert_eq!((f.stats.rejected, f.errors[0].line), (1, 2));
        assert_eq!(got(&f), [pair("192.0.2.1/32", Some("TorrentLocker C&C"))]);
        for first in [
            "N/A,443,TorrentLocker",
            "192.0.2.x,443,malware",
            "x1.2.3.4,443,c2",
            "[192.0.2.9],443,c2",
            "N/A,,TorrentLocker C&C",
            "N/A,443,c2",
            "localhost,443,host",
        ] {
            let f = parse_bytes_as(&format!("{first}\n192.0.2.1,443,c2\n"), Format::Csv);
            assert_eq!((f.stats.rejected, f.stats.skipped), (1, 0), "{first}");
            assert_eq!(f.entries.len(), 1, "{first}");
        }
    }

    /// Header names reach messages quoted and escaped: no control character gets through.
    #[test]
    fn header_names_are_escaped_in_messages() {
        let opts = crate::feed::FeedOptions::default().with_field("dst");
        let f = crate::feed::parse_bytes(
            "t",
            b"ip,address,\x1b[31mEVIL\x07\n192.0.2.1,192.0.2.2,x\n",
            &opts.with_format(Format::Csv),
        )
        .unwrap();
        let reason = &f.errors[0].reason;
        assert!(
            !reason.contains('\x1b') && !reason.contains('\x07'),
            "{reason:?}"
        );
        assert!(reason.contains("\\u{1b}"), "{reason:?}");
    }

    #[test]
    fn unknown_header_uses_data() {
        let f = parse_bytes_as("when|where|what\nmonday|192.0.2.1|c2\n", Format::Csv);
        assert_eq!(got(&f), [pair("192.0.2.1/32", None)]);
    }

    #[test]
    fn no_address_column_rejects_until_found() {
        // "a,b" is a header (letters, no address, nothing like data); data then gives the
        // column. The header names column 2, so it is not taken as free text.
        let f = parse_bytes_as("a,b\n192.0.2.1,x\n", Format::Csv);
        assert_eq!(got(&f), [pair("192.0.2.1/32", None)]);
        // "a,1" has a bare number, like a port: a data row without an address, rejected.
        let f = parse_bytes_as("a,1\n192.0.2.1,x\n", Format::Csv);
        assert_eq!((f.stats.rejected, f.errors[0].line), (1, 1));
        assert_eq!(got(&f), [pair("192.0.2.1/32", Some("x"))]);
        let f = parse_bytes_as("1,2\n3,192.0.2.1\n", Format::Csv);
        assert_eq!(f.stats.rejected, 1);
        assert_eq!(f.errors[0].reason, "no column holds an address");
        assert_eq!(got(&f), [pair("192.0.2.1/32", None)]);
    }

    /// A connection log names the victim (`src_ip`) and the C&C (`dst_ip`): the
    /// destination is taken, never the source; two plain address columns are ambiguous and
    /// every row says so; `--field` settles it.
    #[test]
    fn destination_wins_sources_never_and_ambiguity_is_an_error() {
        let f = parse_bytes_as("src_ip,dst_ip\n10.0.0.5,192.0.2.1\n", Format::Csv);
        assert_eq!(got(&f), [pair("192.0.2.1/32", None)]);
        let f = parse_bytes_as("time,SrcIP\nmon,10.0.0.5\n", Format::Csv);
        assert!(f.entries.is_empty());
        assert!(
            f.errors[0].reason.contains("only a source"),
            "{:?}",
            f.errors
        );
        let f = parse_bytes_as(
            "ip,address\n192.0.2.1,192.0.2.2\n192.0.2.3,192.0.2.4\n",
            Format::Csv,
        );
        assert!(f.entries.is_empty());
        assert_eq!(f.stats.rejected, 2, "every row is refused, none guessed");
        assert!(
            f.errors[0].reason.contains("\"ip\", \"address\""),
            "{:?}",
            f.errors
        );
        let f = parse_bytes_as("192.0.2.1,192.0.2.2\n", Format::Csv);
        assert!(
            f.errors[0].reason.contains("columns 1, 2"),
            "{:?}",
            f.errors
        );
        let opts = crate::feed::FeedOptions::default()
            .with_format(Format::Csv)
            .with_field("address");
        let text = "ip,address\n192.0.2.1,192.0.2.2\n";
        let f = crate::feed::parse_bytes("t", text.as_bytes(), &opts).unwrap();
        assert_eq!(got(&f), [pair("192.0.2.2/32", None)]);
        let opts = crate::feed::FeedOptions::default()
            .with_format(Format::Csv)
            .with_field("1");
        let f = crate::feed::parse_bytes("t", b"192.0.2.1,192.0.2.2\n", &opts).unwrap();
        assert_eq!(got(&f), [pair("192.0.2.1/32", None)]);
    }
}
