//! stamparm ipsum: `ip<TAB>count` under a `#` header.
//!
//! `count` is how many public blacklists list the address (1 to 10 or so). It becomes the
//! entry's risk: `min(100, count * 10)`, so 10 or more lists is full risk. No tag is set. A
//! line with the address alone is accepted without a risk.

use crate::entry::Meta;

use super::addr::parse_net;
use super::sink::{LineParser, Sink, bad_addr, excerpt};

/// The ipsum parser.
#[derive(Debug, Default)]
pub(crate) struct Ipsum;

/// The risk given to an address that `count` blacklists list.
pub(crate) fn risk_for_count(count: u32) -> u8 {
    // At most 100, so the narrowing is lossless.
    count.saturating_mul(10).min(100) as u8
}

impl LineParser for Ipsum {
    fn line(&mut self, text: &str, sink: &mut Sink) -> Result<(), String> {
        let t = text.trim();
        if t.is_empty() || t.starts_with('#') {
            return Ok(());
        }
        let mut fields = t.split_whitespace();
        let addr = fields.next().unwrap_or_default();
        let count = fields.next();
        if let Some(extra) = fields.next() {
            return Err(format!(
                "unexpected field {} after the count",
                excerpt(extra)
            ));
        }
        let p = parse_net(addr).map_err(|e| bad_addr(addr, &e))?;
        let risk = match count {
            None => None,
            Some(c) => Some(risk_for_count(
                c.parse::<u32>()
                    .map_err(|_| format!("invalid count {}", excerpt(c)))?,
            )),
        };
        sink.push(
            p,
            Meta {
                risk,
                ..Meta::default()
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::feed::{Format, parse_bytes_as};

    #[test]
    fn counts_become_risk() {
        let f = parse_bytes_as(
            "# IPsum Threat Intelligence Feed\n#\n# IP\tnumber of (black)lists\n#\n\
             77.90.185.20\t10\n1.2.3.4\t3\n5.6.7.8\t12\n9.9.9.9\n1.1.1.1\tx\n",
            Format::Ipsum,
        );
        let risks: Vec<Option<u8>> = f.entries.iter().map(|e| e.meta.risk).collect();
        assert_eq!(risks, [Some(100), Some(30), Some(100), None]);
        assert!(f.entries.iter().all(|e| e.meta.tag.is_none()));
        assert_eq!((f.stats.skipped, f.stats.rejected), (4, 1));
        assert_eq!(f.errors[0].reason, "invalid count \"x\"");
    }
}
