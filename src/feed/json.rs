//! JSON feeds (feature `serde`): a JSON array of entry objects, or JSON Lines.
//!
//! Each object is `{"prefix": "198.51.100.0/24", "tag": "...", "risk": 0-100, "expires": ...}`
//! where every key but the address is optional, unknown keys are ignored, and `expires` is
//! Unix seconds or an RFC 3339 time (`2024-05-01T00:00:00Z`; a numeric offset is converted
//! to UTC). A bare string element is taken as an address without metadata.
//!
//! The address key is the one the caller names ([`FeedOptions::field`](super::FeedOptions)),
//! else found by rule, without regard to case, `_`, `-`, `.` or spaces: a destination key
//! (`dst_ip`, `destination`, `c2_ip`, ...), else an address key (`prefix`, `cidr`, `ip`,
//! `address`, `ip_address`, `ipv4`, `ipv6`, `network`, `indicator`, ...). Several such keys
//! must hold the same value; a source key (`src_ip`, `source`, `client_ip`, ...) is never
//! taken. A record without an address is rejected, never skipped (only the
//! `{"type":"metadata",...}` trailer of Spamhaus feeds is), so a feed whose keys are not
//! understood cannot turn silently into an empty list.
//!
//! For these feeds a "line" in [`FeedStats`](super::FeedStats) is one record (an array
//! element or a top-level value), numbered by the text line it starts on.
//!
//! Records are cut out of the byte stream by a small scanner that tracks nesting and strings,
//! then each is parsed on its own, so a huge array is never held in memory at once and a bad
//! record costs only itself. A record longer than the line cap is rejected unread.

use std::io::BufRead;

use serde_json::Value;

use crate::entry::Meta;

use super::FeedError;
use super::addr::parse_net;
use super::input::Meter;
use super::sink::{Sink, bad_addr, excerpt};

use super::csv::{ADDR_NAMES, DEST_NAMES, SOURCE_NAMES, normalize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An object or array: ends at its matching bracket.
    Container,
    /// A string: ends at its closing quote.
    Str,
    /// A number, literal or junk: ends at a delimiter (at the end of the line in JSON Lines).
    Scalar,
}

#[derive(Debug)]
struct Record {
    buf: Vec<u8>,
    line: u64,
    kind: Kind,
    depth: u32,
    in_str: bool,
    esc: bool,
    too_long: bool,
    /// Cut off by the end of its line in JSON Lines.
    cut: bool,
}

enum Step {
    /// The byte belongs to the record, which goes on.
    More,
    /// The byte ends the record and belongs to it.
    Done,
    /// The record ended before this byte, which must be looked at again.
    DoneBefore,
}

impl Record {
    fn start(b: u8, line: u64, max: usize) -> Record {
        let kind = match b {
            b'{' | b'[' => Kind::Container,
            b'"' => Kind::Str,
            _ => Kind::Scalar,
        };
        let mut r = Record {
            buf: Vec::new(),
            line,
            kind,
            depth: u32::from(kind == Kind::Container),
            in_str: kind == Kind::Str,
            esc: false,
            too_long: false,
            cut: false,
        };
        r.keep(b, max);
        r
    }

    fn keep(&mut self, b: u8, max: usize) {
        if self.too_long {
            return;
        }
        if self.buf.len() >= max {
            self.too_long = true;
            self.buf = Vec::new();
        } else {
            self.buf.push(b);
        }
    }

    fn step(&mut self, b: u8, max: usize, json_lines: bool) -> Step {
        if self.kind == Kind::Scalar {
            let end = if json_lines {
                b == b'\n'
            } else {
                matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n')
            };
            if end {
                return Step::DoneBefore;
            }
            self.keep(b, max);
            return Step::More;
        }
        self.keep(b, max);
        if self.in_str {
            if self.esc {
                self.esc = false;
            } else if b == b'\\' {
                self.esc = true;
            } else if b == b'"' {
                self.in_str = false;
                if self.kind == Kind::Str {
                    return Step::Done;
                }
            }
            return Step::More;
        }
        match b {
            b'"' => self.in_str = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Step::Done;
                }
            }
            _ => {}
        }
        Step::More
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing but whitespace (or a byte order mark) seen yet.
    Start,
    /// Inside a top-level array.
    Array,
    /// JSON Lines, or text after the top-level array.
    Lines,
}

struct Scanner<'s> {
    sink: &'s mut Sink,
    max: usize,
    line: u64,
    pos: u64,
    mode: Mode,
    array_line: u64,
    rec: Option<Record>,
    /// Whether records are one a line (JSON Lines), decided by the first record.
    per_line: Option<bool>,
}

const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

impl Scanner<'_> {
    fn byte(&mut self, b: u8) {
        let pos = self.pos;
        self.pos += 1;
        if let Some(r) = self.rec.as_mut() {
            if b == b'\n' && r.kind != Kind::Scalar && self.per_line == Some(true) {
                r.cut = true;
                self.finish(false);
                return self.newline(b);
            }
            match r.step(b, self.max, self.mode == Mode::Lines) {
                Step::More => return self.newline(b),
                Step::Done => {
                    self.finish(false);
                    return self.newline(b);
                }
                Step::DoneBefore => self.finish(false),
            }
        }
        let ws = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        match self.mode {
            _ if ws => {}
            Mode::Start if pos < 3 && BOM.get(pos as usize) == Some(&b) => {}
            Mode::Start if b == b'[' => {
                self.mode = Mode::Array;
                self.array_line = self.line;
            }
            Mode::Start => {
                self.mode = Mode::Lines;
                self.rec = Some(Record::start(b, self.line, self.max));
            }
            Mode::Array if b == b',' => {}
            Mode::Array if b == b']' => self.mode = Mode::Lines,
            Mode::Array | Mode::Lines => self.rec = Some(Record::start(b, self.line, self.max)),
        }
        self.newline(b);
    }

    fn newline(&mut self, b: u8) {
        if b == b'\n' {
            self.line += 1;
        }
    }

    fn finish(&mut self, at_eof: bool) {
        let Some(rec) = self.rec.take() else { return };
        if self.mode == Mode::Lines && self.per_line.is_none() {
            self.per_line = Some(rec.line == self.line);
        }
        let mark = self.sink.begin(rec.line);
        let result = if rec.too_long {
            Err(format!("record longer than {} bytes", self.max))
        } else if rec.cut || (at_eof && rec.kind != Kind::Scalar) {
            Err("unterminated json record".to_owned())
        } else {
            match serde_json::from_slice::<Value>(&rec.buf) {
                Ok(v) if v.is_object() => match repeated_key(&rec.buf) {
                    // The parsed map kept only the last value of a repeated key: which one
                    // the feed meant is unknown, so the record is refused.
                    Some(k) => Err(format!("key {} appears twice in the record", excerpt(&k))),
                    None => record(v, self.sink),
                },
                Ok(v) => record(v, self.sink),
                Err(e) => {
                    let mut msg = e.to_string();
                    if let Some(i) = msg.rfind(" at line ") {
                        msg.truncate(i);
                    }
                    Err(format!("invalid json: {msg}"))
                }
            }
        };
        self.sink.end(mark, result);
    }

    fn eof(&mut self) {
        self.finish(true);
        if self.mode == Mode::Array {
            let mark = self.sink.begin(self.array_line);
            self.sink.end(
                mark,
                Err("unterminated json array (input cut short?)".to_owned()),
            );
        }
    }
}

/// Reads a JSON or JSON Lines feed into `sink`.
pub(crate) fn parse(
    mut src: impl BufRead,
    sink: &mut Sink,
    max_record: usize,
    max_input: u64,
) -> Result<(), FeedError> {
    let mut meter = Meter::new(max_input);
    let mut sc = Scanner {
        sink,
        max: max_record,
        line: 1,
        pos: 0,
        mode: Mode::Start,
        array_line: 1,
        rec: None,
        per_line: None,
    };
    loop {
        let chunk = src.fill_buf().map_err(FeedError::from)?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        meter.add(n)?;
        for &b in chunk {
            sc.byte(b);
        }
        src.consume(n);
    }
    sc.eof();
    Ok(())
}

/// The first key the JSON object in `buf` repeats at its top level, if any (a parsed
/// [`Value`] keeps only the last value of a repeated key).
fn repeated_key(buf: &[u8]) -> Option<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a json object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut repeated = None;
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if repeated.is_none() && !seen.insert(k.clone()) {
                    repeated = Some(k);
                }
            }
            Ok(repeated)
        }
    }
    serde_json::Deserializer::from_slice(buf)
        .deserialize_map(Keys)
        .ok()
        .flatten()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Turns one parsed record into an entry (or nothing, for a record without an address).
fn record(v: Value, sink: &mut Sink) -> Result<(), String> {
    let obj = match v {
        Value::Object(m) => m,
        Value::String(s) => {
            let p = parse_net(s.trim()).map_err(|e| bad_addr(&s, &e))?;
            sink.push(p, Meta::default());
            return Ok(());
        }
        other => {
            return Err(format!(
                "expected a json object, found {}",
                type_name(&other)
            ));
        }
    };
    // Spamhaus's trailer: `{"type":"metadata","timestamp":...,"records":201,...}`.
    if sink.field.is_none() && obj.get("type").and_then(Value::as_str) == Some("metadata") {
        return Ok(());
    }
    let (key, addr) = address_key(&obj, sink.field.as_deref()).map_err(|e| {
        if obj.contains_key("asn") {
            "an ASN record carries no address (map ASNs to their prefixes with the asn-table \
             format)"
                .to_owned()
        } else {
            e
        }
    })?;
    let Value::String(addr) = addr else {
        return Err(format!(
            "{key:?} must be a string, found {}",
            type_name(addr)
        ));
    };
    let p = parse_net(addr.trim()).map_err(|e| bad_addr(addr, &e))?;
    let tag = match obj.get("tag") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(v) => return Err(format!("\"tag\" must be a string, found {}", type_name(v))),
    };
    let risk = match obj.get("risk") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(r) if r <= u64::from(Meta::MAX_RISK) => u8::try_from(r).ok(),
            Some(r) => return Err(format!("risk {r} out of range 0-100")),
            None => return Err(format!("risk {n} is not an integer from 0 to 100")),
        },
        Some(v) => return Err(format!("\"risk\" must be a number, found {}", type_name(v))),
    };
    let expires =
        match obj.get("expires") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                format!("expires {n} is not a non-negative integer (unix seconds)")
            })?),
            Some(Value::String(s)) => Some(parse_rfc3339(s)?),
            Some(v) => {
                return Err(format!(
                    "\"expires\" must be a number or a string, found {}",
                    type_name(v)
                ));
            }
        };
    sink.push(p, Meta { tag, risk, expires });
    Ok(())
}

/// The key of `obj` that holds the address, and its value: the caller's key if named
/// ([`FeedOptions::field`](super::FeedOptions)); else the keys named like a destination
/// (`dst_ip`, `destination`, `c2_ip`, ...), else like an address (`prefix`, `cidr`, `ip`,
/// `IP`, `address`, `ip_address`, `ipv4`, `indicator`, ...), compared without case, `_`,
/// `-`, `.` or spaces. Several such keys must agree; a source key (`src_ip`, ...) is never
/// taken. A record with no address is an error, never skipped.
fn address_key<'v>(
    obj: &'v serde_json::Map<String, Value>,
    field: Option<&str>,
) -> Result<(String, &'v Value), String> {
    if let Some(f) = field {
        return obj
            .iter()
            .find(|(k, _)| k.as_str() == f || normalize(k) == normalize(f))
            .map(|(k, v)| (k.clone(), v))
            .ok_or_else(|| format!("no key {f:?} in the record"));
    }
    for set in [DEST_NAMES, ADDR_NAMES] {
        let found: Vec<(&String, &Value)> = obj
            .iter()
            .filter(|(k, _)| set.contains(&normalize(k).as_str()))
            .collect();
        match found.as_slice() {
            [] => continue,
            [(k, v)] => return Ok(((*k).clone(), v)),
            [(k, v), rest @ ..] => {
                if rest.iter().all(|(_, w)| w == v) {
                    return Ok(((*k).clone(), v));
                }
                let keys: Vec<String> = found.iter().map(|(k, _)| format!("{k:?}")).collect();
                return Err(format!(
                    "ambiguous address: keys {} hold different values; name one with --field",
                    keys.join(", ")
                ));
            }
        }
    }
    if let Some(k) = obj
        .keys()
        .find(|k| SOURCE_NAMES.contains(&normalize(k).as_str()))
    {
        return Err(format!(
            "only a source address ({k:?}), which is not the C&C side; name the key with \
             --field"
        ));
    }
    Err(
        "no address key (such as \"ip\", \"prefix\", \"cidr\", \"address\", \"dst_ip\"); \
         name one with --field"
            .to_owned(),
    )
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds since the Unix epoch for an RFC 3339 date-time (`2024-05-01T12:00:00Z`,
/// `2024-05-01T14:00:00.5+02:00`). Fractions of a second are dropped.
pub(crate) fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid rfc 3339 time {}", excerpt(s));
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<i64> {
        let t = s.get(from..to)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if b.len() < 20 || seps.iter().any(|&(i, c)| b[i] != c) || !matches!(b[10], b'T' | b't' | b' ')
    {
        return Err(bad());
    }
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        num(0, 4),
        num(5, 7),
        num(8, 10),
        num(11, 13),
        num(14, 16),
        num(17, 19),
    ) else {
        return Err(bad());
    };
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        i += digits;
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (Some(oh), Some(om)) = (num(i + 1, i + 3), num(i + 4, i + 6)) else {
                return Err(bad());
            };
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return Err(bad());
    }
    let t = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    u64::try_from(t).map_err(|_| format!("time {} is before 1970", excerpt(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{Format, parse_bytes_as};

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2000-01-01T00:00:00Z"), Ok(946_684_800));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Ok(1_709_208_000));
        assert_eq!(parse_rfc3339("2024-03-01t00:00:00.123z"), Ok(1_709_251_200));
        assert_eq!(
            parse_rfc3339("2024-03-01T02:00:00+02:00"),
            Ok(1_709_251_200)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T23:00:00-01:00"),
            Ok(1_709_251_200)
        );
        assert_eq!(parse_rfc3339("2024-03-01 00:00:00Z"), Ok(1_709_251_200));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+0200",
            "2024-01-01",
            "2024-01-01T00:00:00.Z",
            "x024-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn array_with_metadata_and_lines() {
        let f = parse_bytes_as(
            "[\n  {\"prefix\": \"198.51.100.0/24\", \"tag\": \"c2\", \"risk\": 90,\n   \
             \"expires\": 1700000000},\n  {\"ip\": \"192.0.2.1\", \"expires\": \"2024-03-01T00:00:00Z\"},\n  \
             {\"cidr\": \"2001:db8::/32\", \"risk\": 101},\n  {\"type\": \"metadata\"},\n  \
             \"203.0.113.5\",\n  {\"prefix\": \"1.2.3\"},\n  {\"prefix\": 5},\n  42,\n  \
             {\"prefix\": \"192.0.2.0/24\", \"tag\": \"with ] and } and \\\" inside\"}\n]\n",
            Format::Json,
        );
        let got: Vec<(String, u64)> = f
            .entries
            .iter()
            .map(|e| (e.net.to_string(), e.line))
            .collect();
        assert_eq!(
            got,
            [
                ("198.51.100.0/24".to_owned(), 2),
                ("192.0.2.1/32".to_owned(), 4),
                ("203.0.113.5/32".to_owned(), 7),
                ("192.0.2.0/24".to_owned(), 11),
            ]
        );
        assert_eq!(
            f.entries[0].meta,
            Meta {
                tag: Some("c2".into()),
                risk: Some(90),
                expires: Some(1_700_000_000)
            }
        );
        assert_eq!(f.entries[1].meta.expires, Some(1_709_251_200));
        assert_eq!(
            f.entries[3].meta.tag.as_deref(),
            Some("with ] and } and \" inside")
        );
        let errs: Vec<String> = f.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errs,
            [
                "test:5: risk 101 out of range 0-100",
                "test:8: bad address \"1.2.3\": shortened ipv4 address (3 of 4 octets)",
                "test:9: \"prefix\" must be a string, found a number",
                "test:10: expected a json object, found a number",
            ]
        );
        assert_eq!(
            (f.stats.lines, f.stats.skipped, f.stats.rejected),
            (9, 1, 4)
        );
    }

    #[test]
    fn json_lines_with_bad_and_blank_lines() {
        let f = parse_bytes_as(
            "{\"prefix\":\"192.0.2.1\",\"tag\":\"a\"}\n\n{\"prefix\":\"192.0.2.2\",\n\
             not json at all\n{\"ip\":\"192.0.2.3\",\"risk\":-1}\n{\"ip\":\"192.0.2.4\"}",
            Format::Json,
        );
        let nets: Vec<String> = f.entries.iter().map(|e| e.net.to_string()).collect();
        // Records are one a line, so the unclosed object on line 3 ends with its line and
        // costs nothing else.
        assert_eq!(nets, ["192.0.2.1/32", "192.0.2.4/32"]);
        let errs: Vec<String> = f.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errs,
            [
                "test:3: unterminated json record",
                "test:4: invalid json: expected ident",
                "test:5: risk -1 is not an integer from 0 to 100",
            ]
        );
        assert_eq!(
            (f.stats.lines, f.stats.skipped, f.stats.rejected),
            (5, 0, 3)
        );
    }

    #[test]
    fn pretty_printed_objects_in_sequence() {
        let f = parse_bytes_as(
            "{\n \"ip\": \"192.0.2.1\"\n}\n{\n \"ip\": \"192.0.2.2\"\n}\n",
            Format::Json,
        );
        let lines: Vec<u64> = f.entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 4]);
    }

    #[test]
    fn unterminated_array_and_record() {
        let f = parse_bytes_as(
            "[{\"ip\":\"192.0.2.1\"},\n{\"ip\":\"192.0.2.2\"",
            Format::Json,
        );
        assert_eq!(f.entries.len(), 1);
        let errs: Vec<&str> = f.errors.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            errs,
            [
                "unterminated json record",
                "unterminated json array (input cut short?)"
            ]
        );
    }

    #[test]
    fn oversized_record() {
        let big = format!(
            "{{\"ip\":\"192.0.2.1\",\"pad\":\"{}\"}}\n{{\"ip\":\"192.0.2.2\"}}\n",
            "x".repeat(5000)
        );
        let opts = crate::feed::FeedOptions::default()
            .with_format(Format::Json)
            .with_max_line_bytes(1000);
        let f = crate::feed::parse_bytes("test", big.as_bytes(), &opts).unwrap();
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.errors[0].reason, "record longer than 1000 bytes");
    }

    #[test]
    fn bom_then_array() {
        let f = parse_bytes_as("\u{feff}[{\"ip\":\"192.0.2.1\"}]", Format::Json);
        assert_eq!(f.entries.len(), 1);
        assert!(f.errors.is_empty());
    }

    /// Address keys are found without regard to case or separators; a record without one
    /// is an error, never skipped; disagreeing keys are ambiguous; a source key is never
    /// taken; `--field` names the key.
    #[test]
    fn a_repeated_key_is_refused_not_resolved_last_wins() {
        for text in [
            r#"[{"dst_ip":"192.0.2.1","dst_ip":"10.0.0.1"}]"#,
            r#"{"ip":"192.0.2.1","tag":"a","ip":"192.0.2.1"}"#,
        ] {
            let f = parse_bytes_as(text, Format::Json);
            assert!(f.entries.is_empty(), "{text}");
            assert_eq!(f.stats.rejected, 1, "{text}");
            assert!(
                f.errors[0].reason.contains("appears twice"),
                "{:?}",
                f.errors
            );
        }
        let f = parse_bytes_as(r#"[{"ip":"192.0.2.1","x":{"a":1,"a":2}}]"#, Format::Json);
        assert_eq!(f.entries.len(), 1, "only the record's own keys count");
    }

    #[test]
    fn address_keys_are_resolved_by_rule_and_never_skipped() {
        let f = parse_bytes_as(
            "{\"IP\": \"192.0.2.1\"}\n{\"address\": \"192.0.2.2\"}\n\
             {\"ip_address\": \"192.0.2.3\"}\n{\"ipv4\": \"192.0.2.4\"}\n\
             {\"src_ip\": \"10.0.0.1\", \"dst_ip\": \"192.0.2.5\"}\n\
             {\"ip\": \"192.0.2.6\", \"prefix\": \"192.0.2.6/32\"}\n",
            Format::Json,
        );
        let nets: Vec<String> = f.entries.iter().map(|e| e.net.to_string()).collect();
        assert_eq!(
            nets,
            [
                "192.0.2.1/32",
                "192.0.2.2/32",
                "192.0.2.3/32",
                "192.0.2.4/32",
                "192.0.2.5/32"
            ]
        );
        // "192.0.2.6" and "192.0.2.6/32" are different strings: ambiguous.
        assert_eq!(f.stats.rejected, 1, "{:?}", f.errors);
        assert!(f.errors[0].reason.contains("ambiguous"), "{:?}", f.errors);
        let f = parse_bytes_as(
            "{\"src_ip\": \"10.0.0.1\"}\n{\"host\": \"x\", \"when\": 1}\n{\"name\": \"y\"}\n",
            Format::Json,
        );
        assert!(f.entries.is_empty());
        assert_eq!(f.stats.rejected, 3, "never skipped: {:?}", f.errors);
        assert!(
            f.errors[0].reason.contains("only a source"),
            "{:?}",
            f.errors
        );
        let opts = crate::feed::FeedOptions::default()
            .with_format(Format::Json)
            .with_field("c2_server");
        let f = crate::feed::parse_bytes(
            "t",
            b"{\"c2_server\": \"192.0.2.9\", \"ip\": \"10.0.0.1\"}\n",
            &opts,
        )
        .unwrap();
        assert_eq!(f.entries[0].net.to_string(), "192.0.2.9/32");
    }
}
