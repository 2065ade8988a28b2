//! Plain lists: one address, prefix, `IP/dotted-mask` or range `a-b` a line.
//!
//! `#` and `;` start comments (whole-line or trailing). Blank lines are skipped. Leading
//! and trailing spaces and tabs, CRLF line ends, a UTF-8 byte order mark and a missing final
//! newline are all accepted. A range produces its minimal prefix cover, every entry carrying
//! the range's line number.

use crate::entry::Meta;

use super::addr::{parse_net, parse_range};
use super::sink::{LineParser, Sink, bad_addr, excerpt, strip_comment};

/// The plain-list parser.
#[derive(Debug, Default)]
pub(crate) struct Plain;

impl LineParser for Plain {
    fn line(&mut self, text: &str, sink: &mut Sink) -> Result<(), String> {
        plain_line(strip_comment(text, &['#', ';']), sink)
    }
}

/// Parses one comment-free, trimmed line of a plain list.
pub(crate) fn plain_line(t: &str, sink: &mut Sink) -> Result<(), String> {
    if t.is_empty() {
        return Ok(());
    }
    if let Some(range) = parse_range(t) {
        let nets = range.map_err(|e| bad_addr(t, &e))?;
        for net in nets {
            sink.push_net(net, Meta::default());
        }
        return Ok(());
    }
    if let Some((first, rest)) = t.split_once(char::is_whitespace) {
        parse_net(first).map_err(|e| bad_addr(first, &e))?;
        return Err(format!(
            "unexpected text {} after the address",
            excerpt(rest.trim())
        ));
    }
    let p = parse_net(t).map_err(|e| bad_addr(t, &e))?;
    sink.push(p, Meta::default());
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::feed::{Format, parse_bytes_as};

    #[test]
    fn comments_blanks_and_whitespace() {
        let f = parse_bytes_as(
            "\u{feff}# header\r\n\r\n  192.0.2.1  \r\n\t198.51.100.0/24\t# trailing\r\n; semi\r\n\
             2001:db8::/32 ; note\r\n   \r\n203.0.113.9",
            Format::Plain,
        );
        let nets: Vec<String> = f.entries.iter().map(|e| e.net.to_string()).collect();
        assert_eq!(
            nets,
            [
                "192.0.2.1/32",
                "198.51.100.0/24",
                "2001:db8::/32",
                "203.0.113.9/32"
            ]
        );
        let lines: Vec<u64> = f.entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 6, 8]);
        assert_eq!(f.stats.lines, 8);
        assert_eq!(f.stats.skipped, 4);
        assert_eq!(f.stats.rejected, 0);
        assert!(f.errors.is_empty());
    }

    #[test]
    fn ranges_give_many_entries_on_one_line() {
        let f = parse_bytes_as(
            "192.0.2.0-192.0.2.255\n10.0.0.1 - 10.0.0.6\n1.1.1.1-::1\n",
            Format::Plain,
        );
        let nets: Vec<String> = f.entries.iter().map(|e| e.net.to_string()).collect();
        assert_eq!(
            nets,
            [
                "192.0.2.0/24",
                "10.0.0.1/32",
                "10.0.0.2/31",
                "10.0.0.4/31",
                "10.0.0.6/32"
            ]
        );
        assert_eq!(f.entries.iter().filter(|e| e.line == 2).count(), 4);
        assert_eq!(f.stats.accepted, 5);
        assert_eq!(f.stats.lines, 3);
        assert_eq!(f.stats.rejected, 1);
        assert_eq!(f.errors[0].line, 3);
        assert!(
            f.errors[0].reason.contains("mixes ipv4 and ipv6"),
            "{}",
            f.errors[0]
        );
    }

    #[test]
    fn bad_lines_cost_nothing_else() {
        let f = parse_bytes_as(
            "192.0.2.1\n010.1.1.1\n1.2.3\n192.0.2.2\n0x7f.0.0.1\nfe80::1%eth0\n192.0.2.0/33\n\
             192.0.2.3 extra words\n192.0.2.7/24\n",
            Format::Plain,
        );
        let nets: Vec<String> = f.entries.iter().map(|e| e.net.to_string()).collect();
        assert_eq!(nets, ["192.0.2.1/32", "192.0.2.2/32", "192.0.2.0/24"]);
        assert_eq!(f.stats.truncated, 1);
        assert_eq!(f.stats.rejected, 6);
        let reasons: Vec<String> = f.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            reasons,
            [
                "test:2: bad address \"010.1.1.1\": zero-padded octet \"010\" (could be read as octal)",
                "test:3: bad address \"1.2.3\": shortened ipv4 address (3 of 4 octets)",
                "test:5: bad address \"0x7f.0.0.1\": hexadecimal octet \"0x7f\"",
                "test:6: bad address \"fe80::1%eth0\": ipv6 zone id is not allowed",
                "test:7: bad address \"192.0.2.0/33\": prefix length /33 out of range 0-32",
                "test:8: unexpected text \"extra words\" after the address",
            ]
        );
    }
}
