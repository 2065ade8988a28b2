//! Spamhaus DROP / EDROP / DROPv6: `prefix ; SBLnnn` lines under a `;` header.
//!
//! The tag is the text after `;` (the SBL id). Mirrors that strip the comment and leave a
//! trailing space (`1.10.16.0/20 `) are read too; their entries have no tag.

use crate::entry::Meta;

use super::addr::parse_net;
use super::sink::{LineParser, Sink, bad_addr};

/// The Spamhaus DROP parser.
#[derive(Debug, Default)]
pub(crate) struct Drop;

impl LineParser for Drop {
    fn line(&mut self, text: &str, sink: &mut Sink) -> Result<(), String> {
        let t = text.trim();
        if t.is_empty() || t.starts_with(';') || t.starts_with('#') {
            return Ok(());
        }
        let (addr, comment) = match t.split_once(';') {
            Some((a, c)) => (a.trim(), c.trim()),
            None => (t, ""),
        };
        let p = parse_net(addr).map_err(|e| bad_addr(addr, &e))?;
        let meta = if comment.is_empty() {
            Meta::default()
        } else {
            Meta::tagged(comment)
        };
        sink.push(p, meta);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::feed::{Format, parse_bytes_as};

    #[test]
    fn original_and_mirror_forms() {
        let f = parse_bytes_as(
            "; Spamhaus DROP List 2023/02/20 - (c) 2023 The Spamhaus Project\n\
             ; Last-Modified: Sun, 19 Feb 2023 22:03:03 GMT\n\
             1.10.16.0/20 ; SBL256894\n2a12:2640::/29 ; SBL7097\n1.19.0.0/16 \n\
             1.2.3/16 ; SBL1\n",
            Format::Drop,
        );
        let got: Vec<(String, Option<String>)> = f
            .entries
            .iter()
            .map(|e| (e.net.to_string(), e.meta.tag.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("1.10.16.0/20".to_owned(), Some("SBL256894".to_owned())),
                ("2a12:2640::/29".to_owned(), Some("SBL7097".to_owned())),
                ("1.19.0.0/16".to_owned(), None),
            ]
        );
        assert_eq!((f.stats.skipped, f.stats.rejected), (2, 1));
        assert_eq!(f.errors[0].line, 6);
    }
}
