//! Format detection from the first bytes of a feed.
//!
//! Checks, in order: `[` or `{` first (JSON); a `; IP-ASN32-DAT` banner (ASN table); the Feodo
//! header row; a FireHOL banner (netset); `prefix ; SBL…` rows or a Spamhaus `;` banner
//! (DROP); `prefix<TAB>digits` (ASN table) and `ip<TAB>digits` or an IPsum banner (ipsum); a
//! header row or a consistent comma, tab or pipe count over several columns (CSV). Anything
//! else is a plain list.

use super::Format;
use super::addr::parse_net;
use super::csv::{
    DELIMITERS, count_unquoted, is_addr_name, is_header, names_addr_column, sniff_delimiter,
    split_fields,
};

/// How many data lines are sampled.
const SAMPLE: usize = 20;

/// Detects the format of a feed from its first bytes (a few KiB is plenty).
///
/// The bytes are taken as the start of decompressed text; gzip is recognized before this by
/// [`parse_reader`](super::parse_reader). The result is never [`Format::Auto`].
///
/// # Examples
///
/// ```
/// use c2trie::feed::{detect, Format};
///
/// assert_eq!(detect(b"# my list\n192.0.2.1\n198.51.100.0/24\n"), Format::Plain);
/// assert_eq!(detect(b"1.10.16.0/20 ; SBL256894\n"), Format::Drop);
/// assert_eq!(detect(b"[{\"prefix\": \"192.0.2.0/24\"}]"), Format::Json);
/// ```
pub fn detect(prefix: &[u8]) -> Format {
    detect_prefix(prefix, true)
}

/// Like [`detect`]; when `complete` is false the last (possibly cut) line is ignored.
pub(crate) fn detect_prefix(prefix: &[u8], complete: bool) -> Format {
    let text = String::from_utf8_lossy(prefix);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let first = text.trim_start();
    if first.starts_with('[') || first.starts_with('{') {
        return Format::Json;
    }
    let mut lines: Vec<&str> = text.split('\n').collect();
    if !complete && lines.len() > 1 {
        lines.pop();
    }
    let mut banner = Vec::new();
    let mut data = Vec::new();
    for l in lines {
        let l = l.trim();
        if l.is_empty() {
            continue;
        }
        if l.starts_with('#') || l.starts_with(';') {
            if data.is_empty() {
                banner.push(l.to_ascii_lowercase());
            }
        } else {
            data.push(l);
            if data.len() >= SAMPLE {
                break;
            }
        }
    }
    let banner_has = |needle: &str| banner.iter().any(|b| b.contains(needle));

    if banner.iter().any(|b| b.starts_with("; ip-asn32-dat")) {
        return Format::AsnTable;
    }
    if let Some(first) = data.first()
        && let Ok(fields) = split_fields(first, ',')
    {
        let has = |n: &str| fields.iter().any(|f| f.eq_ignore_ascii_case(n));
        if has("dst_ip") && (has("first_seen_utc") || banner_has("feodo")) {
            return Format::FeodoCsv;
        }
    }
    if banner_has("firehol") {
        return Format::Netset;
    }
    // A header, as a first row or as the comment just before the data, that names an
    // address column (a source one included: the CSV parser then refuses it with a reason)
    // makes a CSV, before any guess from the rows' shape: `# src_ip;dst_ip` rows are no
    // plain list with comments, `SrcIP<TAB>SrcPort` rows no ipsum.
    if names_columns(&banner, &data) {
        return Format::Csv;
    }
    let most = |pred: &dyn Fn(&str) -> bool| {
        let n = data.iter().filter(|l| pred(l)).count();
        n > 0 && n * 2 >= data.len()
    };
    if most(&is_drop_row) || (banner_has("spamhaus") && most(&|l| parse_net(l).is_ok())) {
        return Format::Drop;
    }
    if most(&|l| tab_count(l).is_some_and(|(cidr, _)| cidr)) {
        return Format::AsnTable;
    }
    // ipsum's count is how many blacklists name the address: small. A larger number is a
    // port or some other column, and the rows a CSV.
    if most(&|l| tab_count(l).is_some_and(|(cidr, n)| !cidr && n <= IPSUM_MAX_COUNT))
        || banner_has("ipsum")
    {
        return Format::Ipsum;
    }
    if looks_like_csv(&data) {
        return Format::Csv;
    }
    Format::Plain
}

/// `prefix ; SBLnnn`.
fn is_drop_row(l: &str) -> bool {
    l.split_once(';').is_some_and(|(a, c)| {
        parse_net(a.trim()).is_ok() && c.trim_start().to_ascii_uppercase().starts_with("SBL")
    })
}

/// The largest count an ipsum row carries, for detection (ipsum aggregates a few dozen
/// blacklists).
const IPSUM_MAX_COUNT: u64 = 100;

/// `addr<TAB>digits`: whether the address has a prefix length, and the number.
fn tab_count(l: &str) -> Option<(bool, u64)> {
    let (a, n) = l.split_once('\t')?;
    let n = n.trim();
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    parse_net(a.trim()).ok()?;
    Some((a.contains('/'), n.parse().unwrap_or(u64::MAX)))
}

/// Whether the first data row, or the comment line just before the data, is a header that
/// names an address column, with a delimiter the data rows share.
fn names_columns(banner: &[String], data: &[&str]) -> bool {
    let Some(first) = data.first() else {
        return false;
    };
    let header = |line: &str| {
        sniff_delimiter(line, &DELIMITERS).is_some_and(|d| {
            split_fields(line, d).is_ok_and(|f| {
                f.len() >= 2 && is_header(&f) && f.iter().any(|n| names_addr_column(n))
            }) && data.iter().skip(1).all(|l| count_unquoted(l, d) > 0)
        })
    };
    if header(first) {
        return true;
    }
    banner.last().is_some_and(|c| {
        let c = c.trim_start_matches(['#', ';']).trim();
        // The comment must name the columns of the rows below it: its delimiter is theirs.
        sniff_delimiter(c, &DELIMITERS).is_some_and(|d| {
            split_fields(c, d).is_ok_and(|f| f.len() >= 2 && f.iter().any(|n| names_addr_column(n)))
                && data.iter().all(|l| count_unquoted(l, d) > 0)
        })
    })
}

fn looks_like_csv(data: &[&str]) -> bool {
    let Some(first) = data.first() else {
        return false;
    };
    // A header row that names an address column.
    if let Some(d) = sniff_delimiter(first, &DELIMITERS)
        && let Ok(fields) = split_fields(first, d)
        && fields.len() >= 2
        && is_header(&fields)
        && fields.iter().any(|f| is_addr_name(f))
    {
        return true;
    }
    // No header: the same count of one delimiter on at least three rows in four, and an
    // address in some column of as many: one bad row does not make a CSV a plain list
    // (whose parse would then reject every row).
    let most = |n: usize| n > 0 && n * 4 >= data.len() * 3;
    [',', '\t', '|'].iter().any(|&d| {
        let counts: Vec<usize> = data.iter().map(|l| count_unquoted(l, d)).collect();
        let modal = counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|c| (counts.iter().filter(|&x| x == c).count(), *c))
            .max();
        modal.is_some_and(|(rows, _)| most(rows))
            && most(
                data.iter()
                    .filter(|l| {
                        split_fields(l, d)
                            .is_ok_and(|f| f.iter().any(|f| parse_net(f.trim()).is_ok()))
                    })
                    .count(),
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        let cases: &[(&str, Format)] = &[
            ("192.0.2.1\n198.51.100.0/24\n", Format::Plain),
            (
                "# Country: Andorra (AD)\n#\n46.172.224.0/19\n2a01:fb00::/29\n",
                Format::Plain,
            ),
            ("1.10.16.0/20 \n1.19.0.0/16 \n", Format::Plain),
            ("192.0.2.0 - 192.0.2.9\n", Format::Plain),
            ("1.2.3.4 ; a comment, with a comma\n", Format::Plain),
            ("  [\n{\"prefix\":\"1.2.3.4\"}]", Format::Json),
            ("{\"asn\":932}\n", Format::Json),
            ("\u{feff}{\"ip\":\"1.2.3.4\"}\n", Format::Json),
            (
                "# abuse.ch Feodo Tracker\n#\n\"first_seen_utc\",\"dst_ip\",\"dst_port\",\
                 \"c2_status\",\"last_online\",\"malware\"\n",
                Format::FeodoCsv,
            ),
            (
                "; Spamhaus DROP\n1.10.16.0/20 ; SBL256894\n1.19.0.0/16 ; SBL434604\n",
                Format::Drop,
            ),
            ("; Spamhaus DROPv6 List\n2a12:2640::/29\n", Format::Drop),
            (
                "; IP-ASN32-DAT file\n; \n1.0.0.0/24\t15169\n",
                Format::AsnTable,
            ),
            (
                "1.0.0.0/24\t15169\n2001:db8::/32\t64496\n",
                Format::AsnTable,
            ),
            ("# IPsum\n#\n77.90.185.20\t10\n", Format::Ipsum),
            ("77.90.185.20\t10\n1.2.3.4\t3\n", Format::Ipsum),
            (
                "#\n# firehol_level1\n# Maintainer : FireHOL\n0.0.0.0/8\n",
                Format::Netset,
            ),
            (
                "# DstIP,DstPort\n1.2.3.4,443,Dridex C&C\n5.6.7.8,443,X\n",
                Format::Csv,
            ),
            ("ip|port\n1.2.3.4|80\n", Format::Csv),
            ("ip;port\n1.2.3.4;80\n", Format::Csv),
            ("1.2.3.4\t80\tfoo\n", Format::Csv),
            ("", Format::Plain),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text.as_bytes()), *want, "{text:?}");
        }
    }

    /// A header naming an address column, as a first row or as the comment before the
    /// data, makes a CSV before the rows' shape is guessed; ipsum's counts are small.
    #[test]
    fn column_headers_win_over_shape_guesses() {
        for text in [
            "# src_ip;dst_ip\n10.0.0.5;192.0.2.1\n10.0.0.6;192.0.2.2\n",
            "# SrcIP\tSrcPort\n10.0.0.1\t51234\n10.0.0.2\t51999\n",
            "SrcIP\tSrcPort\n10.0.0.1\t51234\n10.0.0.2\t51999\n",
            "10.0.0.1\t51234\n10.0.0.2\t443\n",
        ] {
            assert_eq!(detect(text.as_bytes()), Format::Csv, "{text:?}");
        }
        // ipsum itself, and plain lists with comments, are unchanged.
        assert_eq!(detect(b"77.90.185.20\t10\n1.2.3.4\t3\n"), Format::Ipsum);
        assert_eq!(
            detect(b"# hosts, seen today\n192.0.2.1\n192.0.2.2\n"),
            Format::Plain
        );
    }

    /// One odd row among the sampled ones (a bad address, a missing or extra column) does
    /// not turn a headerless CSV into a plain list; a few commas in a plain list's
    /// comments do not make it a CSV.
    #[test]
    fn one_bad_row_does_not_flip_csv_detection() {
        let rows: Vec<String> = (1..=19).map(|i| format!("192.0.2.{i},443,c2")).collect();
        for bad in [
            "192.0.2.x,443,c2",
            "192.0.2.77,443",
            "192.0.2.78,443,c2,extra",
            "oops",
        ] {
            for at in [0, 7, 18] {
                let mut r = rows.clone();
                r.insert(at, bad.to_owned());
                let text = r.join("\n") + "\n";
                assert_eq!(detect(text.as_bytes()), Format::Csv, "{bad} at {at}");
            }
        }
        let plain = "192.0.2.1\n192.0.2.2 # seen twice, once today\n192.0.2.3\n192.0.2.4\n";
        assert_eq!(detect(plain.as_bytes()), Format::Plain);
    }

    #[test]
    fn cut_last_line_is_ignored() {
        // The cut line would look like a two-column row; the complete lines are plain.
        assert_eq!(
            detect_prefix(b"192.0.2.1\n192.0.2.2\n192.0.2.3,", false),
            Format::Plain
        );
    }
}
