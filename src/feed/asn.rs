//! `prefix<TAB>ASN` tables (pyasn `IP-ASN32-DAT`), with `;` header lines.
//!
//! The tag is `AS<n>`. IPv4 and IPv6 may be mixed in one file. An ASN written `AS<n>` is
//! accepted too.

use crate::entry::Meta;

use super::addr::parse_net;
use super::sink::{LineParser, Sink, bad_addr, excerpt};

/// The ASN-table parser.
#[derive(Debug, Default)]
pub(crate) struct AsnTable;

impl LineParser for AsnTable {
    fn line(&mut self, text: &str, sink: &mut Sink) -> Result<(), String> {
        let t = text.trim();
        if t.is_empty() || t.starts_with(';') || t.starts_with('#') {
            return Ok(());
        }
        let mut fields = t.split_whitespace();
        let addr = fields.next().unwrap_or_default();
        let asn = fields.next().ok_or("missing asn after the prefix")?;
        if let Some(extra) = fields.next() {
            return Err(format!("unexpected field {} after the asn", excerpt(extra)));
        }
        let p = parse_net(addr).map_err(|e| bad_addr(addr, &e))?;
        let digits = asn
            .strip_prefix("AS")
            .or_else(|| asn.strip_prefix("as"))
            .unwrap_or(asn);
        let n: u32 = digits
            .parse()
            .map_err(|_| format!("invalid asn {}", excerpt(asn)))?;
        sink.push(p, Meta::tagged(format!("AS{n}")));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::feed::{Format, parse_bytes_as};

    #[test]
    fn mixed_families_and_header() {
        let f = parse_bytes_as(
            "; IP-ASN32-DAT file\n; Prefixes-v4   : 2\n; \n1.0.0.0/24\t15169\n\
             2001:db8::/32\t64496\n1.0.4.0/24\n1.0.5.0/24\tAS4200000000\n1.0.6.0/24\t-1\n",
            Format::AsnTable,
        );
        let got: Vec<(String, String)> = f
            .entries
            .iter()
            .map(|e| (e.net.to_string(), e.meta.tag.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            [
                ("1.0.0.0/24".to_owned(), "AS15169".to_owned()),
                ("2001:db8::/32".to_owned(), "AS64496".to_owned()),
                ("1.0.5.0/24".to_owned(), "AS4200000000".to_owned()),
            ]
        );
        assert_eq!((f.stats.skipped, f.stats.rejected), (3, 2));
        assert_eq!(f.errors[0].reason, "missing asn after the prefix");
    }
}
