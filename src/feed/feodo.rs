//! abuse.ch Feodo Tracker CSV.
//!
//! A `#` banner, an uncommented header row
//! `"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"`, quoted rows,
//! and a `# END n entries` trailer (often without a final newline). The tag is the malware
//! family; the port, status and dates are ignored. Column positions come from the header row
//! when there is one, else the documented layout is assumed.

use crate::entry::Meta;

use super::addr::parse_net;
use super::csv::split_fields;
use super::sink::{LineParser, Sink, bad_addr};

/// The Feodo Tracker CSV parser.
#[derive(Debug)]
pub(crate) struct Feodo {
    ip_col: usize,
    tag_col: Option<usize>,
}

impl Default for Feodo {
    fn default() -> Feodo {
        Feodo {
            ip_col: 1,
            tag_col: Some(5),
        }
    }
}

impl LineParser for Feodo {
    fn line(&mut self, text: &str, sink: &mut Sink) -> Result<(), String> {
        let t = text.trim();
        if t.is_empty() || t.starts_with('#') {
            return Ok(());
        }
        let fields = split_fields(t, ',')?;
        if let Some(ip) = fields.iter().position(|f| f.eq_ignore_ascii_case("dst_ip")) {
            self.ip_col = ip;
            self.tag_col = fields
                .iter()
                .position(|f| f.eq_ignore_ascii_case("malware"));
            return Ok(());
        }
        let ip = fields.get(self.ip_col).ok_or_else(|| {
            format!(
                "row has {} fields, dst_ip is field {}",
                fields.len(),
                self.ip_col + 1
            )
        })?;
        let p = parse_net(ip).map_err(|e| bad_addr(ip, &e))?;
        let tag = self
            .tag_col
            .and_then(|i| fields.get(i))
            .filter(|s| !s.is_empty())
            .cloned();
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
    use crate::feed::{Format, parse_bytes_as};

    #[test]
    fn banner_header_rows_trailer() {
        let f = parse_bytes_as(
            "#####\n# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #\n#\n\
             \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\r\n\
             \"2023-05-23 17:51:44\",\"192.9.135.73\",\"1194\",\"online\",\"2024-04-01\",\"Pikabot\"\r\n\
             \"2024-02-08 19:20:49\",\"85.239.243.155\",\"5000\",\"offline\",\"2024-03-11\",\"Qak, \"\"bot\"\"\"\r\n\
             \"2024-02-08 19:20:49\",\"85.239.243\",\"5000\",\"offline\",\"2024-03-11\",\"X\"\r\n\
             # END 2 entries",
            Format::FeodoCsv,
        );
        let got: Vec<(String, Option<String>)> = f
            .entries
            .iter()
            .map(|e| (e.net.to_string(), e.meta.tag.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("192.9.135.73/32".to_owned(), Some("Pikabot".to_owned())),
                (
                    "85.239.243.155/32".to_owned(),
                    Some("Qak, \"bot\"".to_owned())
                ),
            ]
        );
        assert_eq!(
            (f.stats.lines, f.stats.skipped, f.stats.rejected),
            (8, 5, 1)
        );
        assert_eq!(f.errors[0].line, 7);
    }

    #[test]
    fn reordered_header() {
        let f = parse_bytes_as("malware,dst_ip\nEmotet,192.0.2.1\n", Format::FeodoCsv);
        assert_eq!(f.entries[0].meta.tag.as_deref(), Some("Emotet"));
        assert_eq!(f.entries[0].net.to_string(), "192.0.2.1/32");
    }
}
