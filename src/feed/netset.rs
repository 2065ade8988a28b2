//! FireHOL `.netset` / `.ipset` files: a `#` banner, then one IPv4 address or prefix a line.
//!
//! Banner lines may carry trailing spaces. The body is a plain list, so ranges are accepted
//! too (some FireHOL tools write them).

use super::plain::plain_line;
use super::sink::{LineParser, Sink, strip_comment};

/// The FireHOL netset parser.
#[derive(Debug, Default)]
pub(crate) struct Netset;

impl LineParser for Netset {
    fn line(&mut self, text: &str, sink: &mut Sink) -> Result<(), String> {
        plain_line(strip_comment(text, &['#']), sink)
    }
}

#[cfg(test)]
mod tests {
    use crate::feed::{Format, parse_bytes_as};

    #[test]
    fn banner_and_body() {
        let f = parse_bytes_as(
            "#\n# firehol_level1\n#\n# A firewall blacklist composed from IP lists, providing \n\
             # Maintainer      : FireHOL\n#\n0.0.0.0/8\n5.1.21.206/31\n1.2.3.4\n",
            Format::Netset,
        );
        let nets: Vec<String> = f.entries.iter().map(|e| e.net.to_string()).collect();
        assert_eq!(nets, ["0.0.0.0/8", "5.1.21.206/31", "1.2.3.4/32"]);
        assert_eq!(f.stats.skipped, 6);
        assert_eq!(f.stats.rejected, 0);
    }
}
