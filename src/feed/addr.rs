//! Strict parsing of addresses, prefixes and address ranges.
//!
//! Feeds are written by many tools, and lenient parsers disagree on what `010.1.1.1` or
//! `1.2.3` mean (octal? `1.2.0.3`?). A blocklist must not guess, so every form that has more
//! than one reading is rejected with a reason naming the problem.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why a string is not an acceptable address, prefix or range.
///
/// The [`Display`](fmt::Display) text is lowercase and has no trailing period, so it can be
/// embedded in a [`LineError`](crate::feed::LineError) reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddrError {
    /// The string is empty.
    Empty,
    /// The string is not an IPv4 or IPv6 address at all.
    Invalid,
    /// An IPv4 octet has a leading zero (`010`): some parsers read it as octal.
    ZeroPadded {
        /// The offending octet.
        octet: String,
    },
    /// A prefix length has a leading zero (`/024`): some parsers read it as octal.
    ZeroPaddedLen {
        /// The text after the `/`.
        text: String,
    },
    /// An IPv4 address with fewer than four octets (`1.2.3`, `127.1`, or a bare integer).
    Shortened {
        /// How many octets were given.
        octets: usize,
    },
    /// An IPv4 address with more than four octets.
    TooManyOctets,
    /// An IPv4 octet written in hexadecimal (`0x7f`).
    Hex {
        /// The offending octet.
        octet: String,
    },
    /// An IPv4 octet above 255.
    OctetRange {
        /// The offending octet.
        octet: String,
    },
    /// An IPv6 address with a zone id (`fe80::1%eth0`); zones are local to one host.
    ZoneId,
    /// Contains `:` but is not a valid IPv6 address.
    InvalidIpv6,
    /// The text after `/` is neither a number nor a dotted mask.
    InvalidPrefixLen {
        /// The text after the `/`.
        text: String,
    },
    /// The prefix length is larger than the address family allows (`/33`, `/129`).
    PrefixLenRange {
        /// The text after the `/`.
        text: String,
        /// The largest allowed length: 32 or 128.
        max: u8,
    },
    /// A dotted netmask whose one bits are not contiguous (`255.0.255.0`).
    NonContiguousMask {
        /// The mask.
        mask: Ipv4Addr,
    },
    /// A dotted netmask after an IPv6 address.
    MaskOnIpv6,
    /// A range whose ends are of different families.
    MixedFamilies,
    /// A range whose start is after its end.
    ReversedRange {
        /// The first address given.
        start: IpAddr,
        /// The second address given.
        end: IpAddr,
    },
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::Empty => f.write_str("empty address"),
            AddrError::Invalid => f.write_str("not an ip address"),
            AddrError::ZeroPadded { octet } => {
                write!(f, "zero-padded octet {octet:?} (could be read as octal)")
            }
            AddrError::ZeroPaddedLen { text } => {
                write!(
                    f,
                    "zero-padded prefix length /{text} (could be read as octal)"
                )
            }
            AddrError::Shortened { octets } => {
                write!(f, "shortened ipv4 address ({octets} of 4 octets)")
            }
            AddrError::TooManyOctets => f.write_str("ipv4 address with more than 4 octets"),
            AddrError::Hex { octet } => write!(f, "hexadecimal octet {octet:?}"),
            AddrError::OctetRange { octet } => write!(f, "octet {octet:?} out of range 0-255"),
            AddrError::ZoneId => f.write_str("ipv6 zone id is not allowed"),
            AddrError::InvalidIpv6 => f.write_str("invalid ipv6 address"),
            AddrError::InvalidPrefixLen { text } => write!(f, "invalid prefix length {text:?}"),
            AddrError::PrefixLenRange { text, max } => {
                write!(f, "prefix length /{text} out of range 0-{max}")
            }
            AddrError::NonContiguousMask { mask } => write!(f, "non-contiguous netmask {mask}"),
            AddrError::MaskOnIpv6 => f.write_str("dotted netmask after an ipv6 address"),
            AddrError::MixedFamilies => f.write_str("range mixes ipv4 and ipv6"),
            AddrError::ReversedRange { start, end } => {
                write!(f, "range start {start} is after its end {end}")
            }
        }
    }
}

impl std::error::Error for AddrError {}

/// A prefix as parsed from text: canonical, with a note of whether host bits were cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParsedNet {
    /// The prefix with host bits cleared (`192.0.2.7/24` becomes `192.0.2.0/24`).
    pub net: IpNet,
    /// Whether the text had host bits set under its prefix length.
    pub truncated: bool,
}

/// Parses one IPv4 or IPv6 address, strictly.
///
/// IPv4 must be four decimal octets without leading zeros. IPv6 is any RFC 4291 text form
/// (including `::ffff:192.0.2.1`) without a zone id.
///
/// # Errors
///
/// An [`AddrError`] naming the problem: empty input, zero-padded (octal-looking),
/// hexadecimal or out-of-range octets, shortened IPv4, a zone id, or text that is not an
/// address.
///
/// # Examples
///
/// ```
/// use c2trie::feed::{parse_addr, AddrError};
///
/// assert_eq!(parse_addr("192.0.2.1")?.to_string(), "192.0.2.1");
/// assert!(matches!(parse_addr("010.1.1.1"), Err(AddrError::ZeroPadded { .. })));
/// assert!(matches!(parse_addr("1.2.3"), Err(AddrError::Shortened { octets: 3 })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_addr(s: &str) -> Result<IpAddr, AddrError> {
    if s.is_empty() {
        return Err(AddrError::Empty);
    }
    if s.contains('%') {
        return Err(if s.contains(':') {
            AddrError::ZoneId
        } else {
            AddrError::Invalid
        });
    }
    if s.contains(':') {
        return s
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| AddrError::InvalidIpv6);
    }
    parse_v4(s).map(IpAddr::V4)
}

fn parse_v4(s: &str) -> Result<Ipv4Addr, AddrError> {
    if s.is_empty() {
        return Err(AddrError::Empty);
    }
    let parts: Vec<&str> = s.split('.').collect();
    if let Some(p) = parts
        .iter()
        .find(|p| p.starts_with("0x") || p.starts_with("0X"))
    {
        return Err(AddrError::Hex {
            octet: (*p).to_owned(),
        });
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(AddrError::Invalid);
    }
    if parts.len() < 4 {
        return Err(AddrError::Shortened {
            octets: parts.len(),
        });
    }
    if parts.len() > 4 {
        return Err(AddrError::TooManyOctets);
    }
    let mut octets = [0u8; 4];
    for (slot, p) in octets.iter_mut().zip(&parts) {
        if p.len() > 1 && p.starts_with('0') {
            return Err(AddrError::ZeroPadded {
                octet: (*p).to_owned(),
            });
        }
        *slot = match p.parse::<u8>() {
            Ok(v) if p.len() <= 3 => v,
            _ => {
                return Err(AddrError::OctetRange {
                    octet: (*p).to_owned(),
                });
            }
        };
    }
    Ok(Ipv4Addr::from(octets))
}

/// Parses an address or prefix: `IP`, `IP/len` or `IPv4/dotted-mask`.
///
/// A bare address becomes a host prefix (`/32` or `/128`). Host bits set under the prefix
/// length are cleared and reported in [`ParsedNet::truncated`]. A dotted mask must be
/// contiguous (`255.255.255.0`, not `255.0.255.0`).
///
/// # Errors
///
/// Every error of [`parse_addr`], plus an invalid or out-of-range prefix length, a
/// non-contiguous mask, or a dotted mask after an IPv6 address.
///
/// # Examples
///
/// ```
/// use c2trie::feed::parse_net;
///
/// let p = parse_net("198.51.100.7/255.255.255.0")?;
/// assert_eq!(p.net.to_string(), "198.51.100.0/24");
/// assert!(p.truncated);
/// assert_eq!(parse_net("2001:db8::1")?.net.to_string(), "2001:db8::1/128");
/// assert!(parse_net("192.0.2.0/33").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_net(s: &str) -> Result<ParsedNet, AddrError> {
    let (addr_text, len_text) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr = parse_addr(addr_text)?;
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len_text {
        None => max,
        Some(t) if t.contains('.') => {
            if addr.is_ipv6() {
                return Err(AddrError::MaskOnIpv6);
            }
            let mask = u32::from(parse_v4(t)?);
            let ones = mask.leading_ones();
            if ones + mask.trailing_zeros() != 32 {
                return Err(AddrError::NonContiguousMask {
                    mask: Ipv4Addr::from(mask),
                });
            }
            // At most 32, so the narrowing is lossless.
            ones as u8
        }
        Some(t) => {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(AddrError::InvalidPrefixLen { text: t.to_owned() });
            }
            if t.len() > 1 && t.starts_with('0') {
                return Err(AddrError::ZeroPaddedLen { text: t.to_owned() });
            }
            match t.parse::<u8>() {
                Ok(v) if v <= max => v,
                _ => {
                    return Err(AddrError::PrefixLenRange {
                        text: t.to_owned(),
                        max,
                    });
                }
            }
        }
    };
    let net = IpNet::new(addr, len).map_err(|_| AddrError::PrefixLenRange {
        text: len.to_string(),
        max,
    })?;
    let canonical = net.trunc();
    Ok(ParsedNet {
        net: canonical,
        truncated: canonical.addr() != addr,
    })
}

/// The smallest list of prefixes that covers exactly the addresses `start..=end`.
///
/// The prefixes are returned in address order. `192.0.2.0`–`192.0.2.255` gives one `/24`;
/// `0.0.0.0`–`255.255.255.255` gives `0.0.0.0/0`; an unaligned range gives several.
///
/// # Errors
///
/// [`AddrError::MixedFamilies`] if one end is IPv4 and the other IPv6, and
/// [`AddrError::ReversedRange`] if `start > end`.
///
/// # Examples
///
/// ```
/// use c2trie::feed::{parse_addr, range_to_cidrs};
///
/// let nets = range_to_cidrs(parse_addr("192.0.2.1")?, parse_addr("192.0.2.6")?)?;
/// let text: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
/// assert_eq!(text, ["192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31", "192.0.2.6/32"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn range_to_cidrs(start: IpAddr, end: IpAddr) -> Result<Vec<IpNet>, AddrError> {
    let (lo, hi, bits, v4) = match (start, end) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), 32, true)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128, false),
        _ => return Err(AddrError::MixedFamilies),
    };
    if lo > hi {
        return Err(AddrError::ReversedRange { start, end });
    }
    let mut out = Vec::new();
    let mut cur = lo;
    loop {
        // The largest block starting at `cur` is limited by the alignment of `cur`...
        let align = cur.trailing_zeros().min(bits);
        // ...and by how many addresses remain (`rest + 1` of them).
        let rest = hi - cur;
        let fit = if rest == u128::MAX {
            128
        } else {
            127 - (rest + 1).leading_zeros()
        };
        let k = align.min(fit);
        let last = if k == 128 {
            u128::MAX
        } else {
            cur + ((1u128 << k) - 1)
        };
        // `bits - k` is at most 128, so it fits in a u8.
        let len = (bits - k) as u8;
        let addr = if v4 {
            // `cur` stays within the IPv4 range because it never exceeds `hi`.
            IpAddr::V4(Ipv4Addr::from(cur as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(cur))
        };
        out.push(IpNet::new(addr, len).map_err(|_| AddrError::Invalid)?);
        if last >= hi {
            break;
        }
        cur = last + 1;
    }
    Ok(out)
}

/// Parses a range `a-b` (spaces around `-` allowed) into its minimal prefix cover.
pub(crate) fn parse_range(s: &str) -> Option<Result<Vec<IpNet>, AddrError>> {
    let (a, b) = s.split_once('-')?;
    Some((|| {
        range_to_cidrs(parse_addr(a.trim())?, parse_addr(b.trim())?)
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn cover(a: &str, b: &str) -> Vec<String> {
        range_to_cidrs(a.parse().unwrap(), b.parse().unwrap())
            .unwrap()
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    #[test]
    fn accepts_plain_forms() {
        assert_eq!(
            parse_addr("0.0.0.0").unwrap(),
            "0.0.0.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            parse_addr("255.255.255.255").unwrap().to_string(),
            "255.255.255.255"
        );
        assert_eq!(
            parse_addr("2001:db8::1").unwrap().to_string(),
            "2001:db8::1"
        );
        assert_eq!(
            parse_addr("::ffff:192.0.2.1").unwrap().to_string(),
            "::ffff:192.0.2.1"
        );
        assert_eq!(parse_net("192.0.2.1").unwrap().net, net("192.0.2.1/32"));
        assert_eq!(parse_net("2001:db8::").unwrap().net, net("2001:db8::/128"));
        assert_eq!(
            parse_net("192.0.2.0/24").unwrap(),
            ParsedNet {
                net: net("192.0.2.0/24"),
                truncated: false
            }
        );
        assert_eq!(parse_net("0.0.0.0/0").unwrap().net, net("0.0.0.0/0"));
        assert_eq!(parse_net("::/0").unwrap().net, net("::/0"));
        assert_eq!(
            parse_net("2001:db8::/128").unwrap().net,
            net("2001:db8::/128")
        );
    }

    #[test]
    fn truncates_host_bits() {
        let p = parse_net("192.0.2.77/24").unwrap();
        assert_eq!(p.net, net("192.0.2.0/24"));
        assert!(p.truncated);
        let p = parse_net("2001:db8::1/32").unwrap();
        assert_eq!(p.net, net("2001:db8::/32"));
        assert!(p.truncated);
    }

    #[test]
    fn dotted_masks() {
        assert_eq!(
            parse_net("10.1.2.3/255.0.0.0").unwrap().net,
            net("10.0.0.0/8")
        );
        assert_eq!(parse_net("10.0.0.0/0.0.0.0").unwrap().net, net("0.0.0.0/0"));
        assert_eq!(
            parse_net("10.0.0.1/255.255.255.255").unwrap().net,
            net("10.0.0.1/32")
        );
        assert_eq!(
            parse_net("10.0.0.0/255.0.255.0"),
            Err(AddrError::NonContiguousMask {
                mask: "255.0.255.0".parse().unwrap()
            })
        );
        assert_eq!(
            parse_net("10.0.0.0/0.255.255.255"),
            Err(AddrError::NonContiguousMask {
                mask: "0.255.255.255".parse().unwrap()
            })
        );
        assert_eq!(
            parse_net("2001:db8::/255.255.0.0"),
            Err(AddrError::MaskOnIpv6)
        );
        assert!(matches!(
            parse_net("10.0.0.0/255.255.0"),
            Err(AddrError::Shortened { octets: 3 })
        ));
    }

    #[test]
    fn every_rejection_reason() {
        assert_eq!(parse_addr(""), Err(AddrError::Empty));
        assert_eq!(parse_net(""), Err(AddrError::Empty));
        assert_eq!(parse_addr("example.com"), Err(AddrError::Invalid));
        assert_eq!(parse_addr("1.2.3.4 "), Err(AddrError::Invalid));
        assert_eq!(parse_addr("1..2.3"), Err(AddrError::Invalid));
        assert_eq!(parse_addr("1.2.3.4."), Err(AddrError::Invalid));
        assert_eq!(parse_addr("-1.2.3.4"), Err(AddrError::Invalid));
        assert_eq!(
            parse_addr("010.1.1.1"),
            Err(AddrError::ZeroPadded {
                octet: "010".into()
            })
        );
        assert_eq!(
            parse_addr("1.2.3.00"),
            Err(AddrError::ZeroPadded { octet: "00".into() })
        );
        assert_eq!(parse_addr("1.2.3"), Err(AddrError::Shortened { octets: 3 }));
        assert_eq!(parse_addr("127.1"), Err(AddrError::Shortened { octets: 2 }));
        assert_eq!(
            parse_addr("2130706433"),
            Err(AddrError::Shortened { octets: 1 })
        );
        assert_eq!(parse_addr("1.2.3.4.5"), Err(AddrError::TooManyOctets));
        assert_eq!(
            parse_addr("0x7f.1.1.1"),
            Err(AddrError::Hex {
                octet: "0x7f".into()
            })
        );
        assert_eq!(
            parse_addr("1.0X1.1.1"),
            Err(AddrError::Hex {
                octet: "0X1".into()
            })
        );
        assert_eq!(
            parse_addr("256.1.1.1"),
            Err(AddrError::OctetRange {
                octet: "256".into()
            })
        );
        assert_eq!(
            parse_addr("1.1.1.1000"),
            Err(AddrError::OctetRange {
                octet: "1000".into()
            })
        );
        assert_eq!(parse_addr("fe80::1%eth0"), Err(AddrError::ZoneId));
        assert_eq!(parse_net("fe80::1%eth0/64"), Err(AddrError::ZoneId));
        assert_eq!(parse_addr("2001:db8::g"), Err(AddrError::InvalidIpv6));
        assert_eq!(parse_addr("1:2:3:4:5:6:7:8:9"), Err(AddrError::InvalidIpv6));
        assert_eq!(parse_addr("::ffff:010.1.1.1"), Err(AddrError::InvalidIpv6));
        assert_eq!(
            parse_net("192.0.2.0/33"),
            Err(AddrError::PrefixLenRange {
                text: "33".into(),
                max: 32
            })
        );
        assert_eq!(
            parse_net("2001:db8::/129"),
            Err(AddrError::PrefixLenRange {
                text: "129".into(),
                max: 128
            })
        );
        assert_eq!(
            parse_net("192.0.2.0/99999999999999999999"),
            Err(AddrError::PrefixLenRange {
                text: "99999999999999999999".into(),
                max: 32
            })
        );
        assert_eq!(
            parse_net("192.0.2.0/"),
            Err(AddrError::InvalidPrefixLen {
                text: String::new()
            })
        );
        assert_eq!(
            parse_net("192.0.2.0/+8"),
            Err(AddrError::InvalidPrefixLen { text: "+8".into() })
        );
        assert_eq!(parse_net("/24"), Err(AddrError::Empty));
        for (net, text) in [
            ("192.0.2.0/024", "024"),
            ("2001:db8::/032", "032"),
            ("10.0.0.0/00", "00"),
        ] {
            assert_eq!(
                parse_net(net),
                Err(AddrError::ZeroPaddedLen { text: text.into() }),
                "{net}"
            );
        }
        assert_eq!(parse_net("0.0.0.0/0").unwrap().net.prefix_len(), 0);
        let mixed = range_to_cidrs("1.2.3.4".parse().unwrap(), "::1".parse().unwrap());
        assert_eq!(mixed, Err(AddrError::MixedFamilies));
        let rev = range_to_cidrs("1.2.3.5".parse().unwrap(), "1.2.3.4".parse().unwrap());
        assert!(matches!(rev, Err(AddrError::ReversedRange { .. })));
    }

    #[test]
    fn error_text_is_lowercase_without_period() {
        let errs = [
            AddrError::Empty,
            AddrError::Invalid,
            AddrError::ZeroPadded {
                octet: "010".into(),
            },
            AddrError::Shortened { octets: 3 },
            AddrError::TooManyOctets,
            AddrError::Hex {
                octet: "0x7f".into(),
            },
            AddrError::OctetRange {
                octet: "256".into(),
            },
            AddrError::ZoneId,
            AddrError::InvalidIpv6,
            AddrError::InvalidPrefixLen { text: "x".into() },
            AddrError::PrefixLenRange {
                text: "33".into(),
                max: 32,
            },
            AddrError::NonContiguousMask {
                mask: Ipv4Addr::new(255, 0, 255, 0),
            },
            AddrError::MaskOnIpv6,
            AddrError::MixedFamilies,
            AddrError::ReversedRange {
                start: "1.1.1.2".parse().unwrap(),
                end: "1.1.1.1".parse().unwrap(),
            },
        ];
        for e in errs {
            let s = e.to_string();
            assert!(!s.ends_with('.'), "{s}");
            assert_eq!(
                s.chars().next().map(|c| c.is_lowercase()),
                Some(true),
                "{s}"
            );
        }
    }

    #[test]
    fn range_minimal_cover() {
        assert_eq!(cover("192.0.2.0", "192.0.2.255"), ["192.0.2.0/24"]);
        assert_eq!(cover("0.0.0.0", "255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(
            cover("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ["::/0"]
        );
        assert_eq!(cover("192.0.2.7", "192.0.2.7"), ["192.0.2.7/32"]);
        assert_eq!(
            cover("255.255.255.255", "255.255.255.255"),
            ["255.255.255.255/32"]
        );
        assert_eq!(cover("0.0.0.0", "0.0.0.0"), ["0.0.0.0/32"]);
        assert_eq!(
            cover("192.0.2.1", "192.0.2.254"),
            [
                "192.0.2.1/32",
                "192.0.2.2/31",
                "192.0.2.4/30",
                "192.0.2.8/29",
                "192.0.2.16/28",
                "192.0.2.32/27",
                "192.0.2.64/26",
                "192.0.2.128/26",
                "192.0.2.192/27",
                "192.0.2.224/28",
                "192.0.2.240/29",
                "192.0.2.248/30",
                "192.0.2.252/31",
                "192.0.2.254/32"
            ]
        );
        assert_eq!(cover("10.0.0.0", "10.1.255.255"), ["10.0.0.0/15"]);
        assert_eq!(
            cover("10.0.0.255", "10.0.1.0"),
            ["10.0.0.255/32", "10.0.1.0/32"]
        );
        assert_eq!(cover("1.0.0.0", "255.255.255.255").len(), 8);
        assert_eq!(cover("2001:db8::", "2001:db8::ffff"), ["2001:db8::/112"]);
        assert_eq!(
            cover("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").len(),
            128
        );
    }

    #[test]
    fn range_cover_is_exact_and_minimal() {
        // Exhaustive over a small window: every range inside 10.0.0.0/27.
        for a in 0u32..32 {
            for b in a..32 {
                let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
                let nets =
                    range_to_cidrs(IpAddr::V4((base + a).into()), IpAddr::V4((base + b).into()))
                        .unwrap();
                let mut next = base + a;
                for n in &nets {
                    let IpNet::V4(n) = n else { panic!("family") };
                    assert_eq!(u32::from(n.network()), next, "gap or overlap in {a}-{b}");
                    next = u32::from(n.broadcast()) + 1;
                    // Minimal: no two consecutive blocks could merge into one.
                }
                assert_eq!(next, base + b + 1);
                for w in nets.windows(2) {
                    if w[0].prefix_len() == w[1].prefix_len() {
                        let sup = w[0].supernet().unwrap();
                        assert!(!sup.contains(&w[1]), "mergeable {} {}", w[0], w[1]);
                    }
                }
            }
        }
    }

    #[test]
    fn parse_range_forms() {
        let r = parse_range("192.0.2.0 - 192.0.2.255").unwrap().unwrap();
        assert_eq!(r, vec![net("192.0.2.0/24")]);
        let r = parse_range("192.0.2.0-192.0.2.1").unwrap().unwrap();
        assert_eq!(r, vec![net("192.0.2.0/31")]);
        assert!(parse_range("192.0.2.0").is_none());
        assert_eq!(
            parse_range("1.2.3-1.2.3.4").unwrap(),
            Err(AddrError::Shortened { octets: 3 })
        );
    }

    /// Checks that `nets` tile `lo..=hi` exactly, each block aligned, none mergeable.
    fn assert_exact_cover(nets: &[IpNet], lo: u128, hi: u128) {
        let mut next = lo;
        for n in nets {
            let (start, last) = match n {
                IpNet::V4(n) => (
                    u128::from(u32::from(n.network())),
                    u128::from(u32::from(n.broadcast())),
                ),
                IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
            };
            assert_eq!(start, next, "gap or overlap at {n}");
            assert_eq!(n.trunc(), *n, "unaligned {n}");
            next = last.wrapping_add(1);
        }
        assert_eq!(next.wrapping_sub(1), hi);
        for w in nets.windows(2) {
            if w[0].prefix_len() == w[1].prefix_len() {
                assert!(
                    !w[0].supernet().is_some_and(|s| s.contains(&w[1])),
                    "{} {}",
                    w[0],
                    w[1]
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn v4_range_cover(a: u32, b: u32) {
            let (lo, hi) = (a.min(b), a.max(b));
            let nets = range_to_cidrs(IpAddr::V4(lo.into()), IpAddr::V4(hi.into())).unwrap();
            proptest::prop_assert!(nets.len() <= 62);
            assert_exact_cover(&nets, lo.into(), hi.into());
        }

        #[test]
        fn v6_range_cover(a: u128, b: u128) {
            let (lo, hi) = (a.min(b), a.max(b));
            let nets = range_to_cidrs(IpAddr::V6(lo.into()), IpAddr::V6(hi.into())).unwrap();
            proptest::prop_assert!(nets.len() <= 254);
            assert_exact_cover(&nets, lo, hi);
        }

        #[test]
        fn displayed_addresses_parse_back(a: u32, b: u128, len4 in 0u8..=32, len6 in 0u8..=128) {
            let v4 = IpAddr::V4(a.into());
            let v6 = IpAddr::V6(b.into());
            proptest::prop_assert_eq!(parse_addr(&v4.to_string()), Ok(v4));
            proptest::prop_assert_eq!(parse_addr(&v6.to_string()), Ok(v6));
            let n4 = IpNet::new(v4, len4).unwrap();
            let p = parse_net(&n4.to_string()).unwrap();
            proptest::prop_assert_eq!(p.net, n4.trunc());
            proptest::prop_assert_eq!(p.truncated, n4.trunc() != n4);
            let n6 = IpNet::new(v6, len6).unwrap();
            proptest::prop_assert_eq!(parse_net(&n6.to_string()).unwrap().net, n6.trunc());
        }
    }
}
